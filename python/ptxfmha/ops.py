"""PyTorch entry points: one torch.library custom op per C entry point, and the
FlashAttention-shaped Python functions over them.

  ptxfmha::attn         -> ptxfmha_attn         prefill: fixed-length, variable-length (cu_seqlens),
                                                paged K/V, window, softcap, sinks, ALiBi
                                                (attention(), flash_attn_func(), attention_varlen(),
                                                flash_attn_varlen_func(), and attention_with_kvcache()
                                                for more than 8 query tokens)
  ptxfmha::decode_attn  -> ptxfmha_decode_attn  1..8 query tokens against a bf16 or FP8 (e4m3) KV cache, with the same
                                                score features (attention_with_kvcache(),
                                                flash_attn_with_kvcache())
  ptxfmha::bwd          -> ptxfmha_bwd          dQ, dK, dV and d_sink (autograd of ptxfmha::attn)

Each op has a fake (meta) implementation that runs the same shape checks (_checks.py) and
returns empty tensors of the output shapes, so torch.compile(fullgraph=True) traces through
it, backward included (AOT autograd traces ptxfmha::bwd's fake); the real implementation
allocates its outputs (and workspaces) with PyTorch's allocator and launches on the caller's
current CUDA stream, which is what CUDA-graph capture records.

Autograd: ptxfmha::attn saves q, k, v, out, the LSE, sinks and alibi_slopes; its backward calls
ptxfmha::bwd with the forward's window (as the forward read it), softcap, sinks and ALiBi, and
gives sinks the gradient ptxfmha_bwd writes to d_sink. The public functions ask the forward for
the LSE whenever a gradient will be needed (grad mode on and an input that requires grad), so
the caller need not. The LSE output itself is not differentiable (as in FlashAttention).
Variable length (cu_seqlens_q / cu_seqlens_k / seqused_k) goes to ptxfmha_bwd's
variable-length fields; paged K/V makes backward raise NotImplementedError naming it; the
decode op has no backward (inference only). Plain eager calls skip the custom op's dispatch
(the eager fast path below) and each call shape's checks and block are built once (plans).

Adding an entry point: a params builder in _checks.py, a custom op here (impl + fake +
autograd), a public function, and a row in errors.C_TO_PYTHON_NAMES for its C names.
"""

import ctypes
import os
from typing import Optional

import torch

from . import _abi, _checks, _lib
from ._cuda import device_context
from ._kvcache import kv_scales as _kv_scales
from ._kvcache import kvcache_args as _kvcache_args
from ._kvcache import refuse_prefill_fp8 as _refuse_prefill_fp8
from .errors import ArgumentError

__all__ = [
    "attention",
    "attention_varlen",
    "attention_with_kvcache",
    "check_kvcache_metadata",
    "check_metadata",
    "flash_attn_func",
    "flash_attn_varlen_func",
    "flash_attn_with_kvcache",
]

Tensor = torch.Tensor


def _ordinal(device):
    return device.index if device.index is not None else torch.cuda.current_device()


_raw_stream = getattr(torch._C, "_cuda_getCurrentRawStream", None)


def _stream(device):
    """The current CUDA stream of `device` (a CUstream address)."""
    if _raw_stream is not None:
        return _raw_stream(_ordinal(device))
    return torch.cuda.current_stream(device).cuda_stream


def _workspace(size_entry, params, device):
    """Sizes the workspace with `size_entry` and allocates it from PyTorch's allocator on the
    current stream (freed when the caller drops it: the block is stream-ordered on the stream
    the kernels run on, so PyTorch reuses it only for work queued after them)."""
    nbytes = ctypes.c_uint64(0)
    _lib.call(size_entry, ctypes.byref(params), ctypes.byref(nbytes))
    if not nbytes.value:
        return None
    ws = torch.empty(nbytes.value, dtype=torch.uint8, device=device)
    params.workspace = ws.data_ptr()
    params.workspace_bytes = nbytes.value
    return ws


# ---- eager fast path ------------------------------------------------------------------------
#
# A call through torch.ops.ptxfmha.* costs tens of microseconds of Python dispatch (the custom
# op's autograd wrapper, redispatch, schema checks). In plain eager mode - real tensors of a
# device type listed in EAGER_KERNELS, not compiling or jit-tracing, no dispatch / function
# mode, no functorch transform - the public functions call the op's implementation directly (and
# its autograd through _AttnFunction); the implementation runs the same checks. Anything else
# goes through the custom op, so torch.compile, FakeTensor / meta, opcheck, vmap and dispatch
# modes see torch.ops.ptxfmha.*. PTXFMHA_NO_FAST_PATH=1 (or FAST_PATH = False) sends every call
# through the ops.

FAST_PATH = os.environ.get("PTXFMHA_NO_FAST_PATH", "") in ("", "0")
EAGER_KERNELS = {}  # device type -> {"attn": ..., "bwd": ..., "decode_attn": ...} (filled below)
_Tensor = torch.Tensor
_dispatch_modes = torch._C._len_torch_dispatch_stack
_function_modes = torch._C._len_torch_function_stack
_functorch_level = torch._C._functorch.peek_interpreter_stack
_profiling = torch.autograd._profiler_enabled
_jit_tracing = torch._C._get_tracing_state


def _eager_kernels(q, *others):
    """The kernels EAGER_KERNELS has for q's device when the call may bypass the custom op,
    else None (see above)."""
    if not FAST_PATH or type(q) is not _Tensor:
        return None
    kernels = EAGER_KERNELS.get(q.device.type)
    if (kernels is None or torch.compiler.is_compiling() or _dispatch_modes() or _function_modes()
            or _functorch_level() is not None or _jit_tracing() is not None):
        return None
    for t in others:
        if t is not None and type(t) is not _Tensor:
            return None
    return kernels


def _eager_call(kernels, name, args):
    if _profiling():  # the op's name in profiler traces, as the custom op shows it
        with torch.autograd.profiler.record_function(f"ptxfmha::{name}"):
            return kernels[name](*args)
    return kernels[name](*args)


# ---- plans: a call shape's checks and parameter block, once ----------------------------------
#
# The checks (_checks.*_problem) and every size / stride / feature field of a parameter block
# depend only on the arguments' dtypes, devices, shapes and strides and on the scalar arguments;
# a kernel keeps, per such key, the checked problem and the filled block, and on a later call
# with the same key copies the block and sets its addresses (_checks.*_pointers: every address
# field), skipping checks whose answer it already has. A failed check caches nothing. The C
# library checks every block it is given as before.

_PLANS = {}
PLAN_CACHE_SIZE = 512


def _tkey(t):
    return None if t is None else (t.dtype, t.device, t.shape, t.stride())


def _remember(key, plan):
    if len(_PLANS) >= PLAN_CACHE_SIZE:
        _PLANS.clear()
    _PLANS[key] = plan


# ---- ptxfmha::attn ------------------------------------------------------------------------

def _attn_problem(q, k, v, cu_seqlens_q, cu_seqlens_k, seqused_k, block_table, max_seqlen_q, max_seqlen_k,
                  sinks, alibi_slopes):
    return _checks.attn_problem("ptxfmha::attn", q, k, v, cu_seqlens_q, cu_seqlens_k, seqused_k, block_table,
                                max_seqlen_q, max_seqlen_k, sinks, alibi_slopes)


def _attn_outputs(q, pr, return_lse):
    o_shape, lse_shape = pr.out_shapes(return_lse)
    return q.new_empty(o_shape, dtype=q.dtype), q.new_empty(lse_shape, dtype=torch.float32)


def _attn_params(pr, q, k, v, out, lse, cu_seqlens_q, cu_seqlens_k, seqused_k, block_table, causal,
                 softmax_scale, window_left, window_right, softcap, sinks, alibi_slopes):
    return _checks.attn_params(pr, q, k, v, out, lse, cu_seqlens_q, cu_seqlens_k, seqused_k, block_table,
                               causal, softmax_scale, window_left, window_right, softcap, sinks, alibi_slopes,
                               _stream(q.device))


def _attn_kernel(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    cu_seqlens_q: Optional[Tensor],
    cu_seqlens_k: Optional[Tensor],
    seqused_k: Optional[Tensor],
    block_table: Optional[Tensor],
    max_seqlen_q: int,
    max_seqlen_k: int,
    causal: bool,
    softmax_scale: float,
    window_left: int,
    window_right: int,
    softcap: float,
    sinks: Optional[Tensor],
    alibi_slopes: Optional[Tensor],
    return_lse: bool,
    deterministic: bool,
) -> tuple[Tensor, Tensor]:
    """ptxfmha_attn: out like q (bf16) and lse [b, hq, sq] / [hq, total_q] fp32 (empty unless
    return_lse). `deterministic` is for the backward only (ptxfmha_bwd's flag)."""
    key = ("attn", _tkey(q), _tkey(k), _tkey(v), _tkey(cu_seqlens_q), _tkey(cu_seqlens_k), _tkey(seqused_k),
           _tkey(block_table), _tkey(sinks), _tkey(alibi_slopes), max_seqlen_q, max_seqlen_k, causal, softmax_scale,
           window_left, window_right, softcap, return_lse)
    plan = _PLANS.get(key)
    pr = plan[0] if plan is not None else _attn_problem(q, k, v, cu_seqlens_q, cu_seqlens_k, seqused_k, block_table,
                                                        max_seqlen_q, max_seqlen_k, sinks, alibi_slopes)
    out, lse = _attn_outputs(q, pr, return_lse)
    if pr.query_rows == 0:  # varlen with no query rows: nothing to compute (empty tensors have no address)
        return out, lse
    if pr.varlen_k and pr.total_k == 0:
        raise ArgumentError("ptxfmha::attn: k has no rows (total_k = 0); every sequence needs its keys",
                            function="ptxfmha::attn", argument="k")
    with device_context(_ordinal(q.device)):
        if plan is None:
            params = _attn_params(pr, q, k, v, out, lse if return_lse else None, cu_seqlens_q, cu_seqlens_k,
                                  seqused_k, block_table, causal, softmax_scale, window_left, window_right, softcap,
                                  sinks, alibi_slopes)
            _remember(key, (pr, bytes(params)))
        else:
            params = _checks.fill(_abi.AttnParams.from_buffer_copy(plan[1]), _checks.attn_pointers(
                q, k, v, out, lse if return_lse else None, cu_seqlens_q, cu_seqlens_k, seqused_k, block_table, sinks,
                alibi_slopes, _stream(q.device)))
        _lib.call("ptxfmha_attn", ctypes.byref(params))
    return out, lse


attn = torch.library.custom_op("ptxfmha::attn", mutates_args=())(_attn_kernel)


@attn.register_fake
def _attn_fake(q, k, v, cu_seqlens_q, cu_seqlens_k, seqused_k, block_table, max_seqlen_q, max_seqlen_k, causal,
               softmax_scale, window_left, window_right, softcap, sinks, alibi_slopes, return_lse, deterministic):
    pr = _attn_problem(q, k, v, cu_seqlens_q, cu_seqlens_k, seqused_k, block_table, max_seqlen_q, max_seqlen_k,
                       sinks, alibi_slopes)
    return _attn_outputs(q, pr, return_lse)


# ---- ptxfmha::bwd -------------------------------------------------------------------------

def _bwd_outputs(q, k, v, sinks, pr):
    """dq, dk, dv (contiguous, like q, k, v) and d_sink (fp32 [hq] with sinks, else [0]). With
    variable lengths they start as zeros: rows of no sequence (past cu_seqlens[batch], keys
    past seqused_k) get gradient 0, which the kernels do not write."""
    new = torch.zeros_like if pr.varlen_q or pr.varlen_k or pr.query_rows == 0 else torch.empty_like
    dq, dk, dv = (new(t, memory_format=torch.contiguous_format) for t in (q, k, v))
    return dq, dk, dv, q.new_empty((pr.heads_q if sinks is not None else 0,), dtype=torch.float32)


def _bwd_problem(dout, q, k, v, out, lse, sinks, alibi_slopes, cu_seqlens_q, cu_seqlens_k, seqused_k, max_seqlen_q,
                 max_seqlen_k):
    return _checks.bwd_problem("ptxfmha::bwd", dout, q, k, v, out, lse, sinks, alibi_slopes, cu_seqlens_q,
                               cu_seqlens_k, seqused_k, max_seqlen_q, max_seqlen_k)


def _bwd_kernel(
    dout: Tensor,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    out: Tensor,
    lse: Tensor,
    causal: bool,
    softmax_scale: float,
    deterministic: bool,
    window_left: int = -1,
    window_right: int = -1,
    softcap: float = 0.0,
    sinks: Optional[Tensor] = None,
    alibi_slopes: Optional[Tensor] = None,
    cu_seqlens_q: Optional[Tensor] = None,
    cu_seqlens_k: Optional[Tensor] = None,
    seqused_k: Optional[Tensor] = None,
    max_seqlen_q: int = 0,
    max_seqlen_k: int = 0,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """ptxfmha_bwd: dq, dk, dv (bf16, contiguous, shaped like q, k, v) from the forward's out and
    lse; GQA's dk / dv are summed over the query heads. q, k, v fixed-length ([b, s, h, d], lse
    [b, hq, sq]) or packed as ptxfmha::attn's (cu_seqlens_q: q / out / dout [total_q, hq, d] and
    lse [hq, total_q]; cu_seqlens_k: k / v [total_k, hkv, d]; seqused_k, max_seqlen_q /
    max_seqlen_k as the forward's). window / softcap / sinks / alibi_slopes as the forward's; the
    4th output is d_sink = dL/d sinks (fp32 [hq]) when sinks is given, else an empty [0] tensor."""
    key = ("bwd", _tkey(dout), _tkey(q), _tkey(k), _tkey(v), _tkey(out), _tkey(lse), _tkey(sinks),
           _tkey(alibi_slopes), _tkey(cu_seqlens_q), _tkey(cu_seqlens_k), _tkey(seqused_k), max_seqlen_q,
           max_seqlen_k, causal, softmax_scale, deterministic, window_left, window_right, softcap)
    plan = _PLANS.get(key)
    pr = plan[0] if plan is not None else _bwd_problem(dout, q, k, v, out, lse, sinks, alibi_slopes, cu_seqlens_q,
                                                       cu_seqlens_k, seqused_k, max_seqlen_q, max_seqlen_k)
    dq, dk, dv, d_sink = _bwd_outputs(q, k, v, sinks, pr)
    if pr.query_rows == 0:  # no query rows: every gradient is 0
        return dq, dk, dv, d_sink.zero_()
    d_sink_arg = d_sink if sinks is not None else None
    with device_context(_ordinal(q.device)):
        if plan is None:
            params = _checks.bwd_params(dout, q, k, v, out, lse, dq, dk, dv, causal, softmax_scale, deterministic,
                                        0, 0, _stream(q.device), window_left, window_right, softcap, sinks,
                                        alibi_slopes, d_sink_arg, pr, cu_seqlens_q, cu_seqlens_k, seqused_k)
            _remember(key, (pr, bytes(params)))
        else:
            params = _checks.fill(_abi.BwdParams.from_buffer_copy(plan[1]), _checks.bwd_pointers(
                dout, q, k, v, out, lse, dq, dk, dv, sinks, alibi_slopes, d_sink_arg, cu_seqlens_q, cu_seqlens_k,
                seqused_k, _stream(q.device)))
        ws = _workspace("ptxfmha_bwd_workspace_size", params, q.device)  # noqa: F841 (kept alive)
        _lib.call("ptxfmha_bwd", ctypes.byref(params))
    return dq, dk, dv, d_sink


bwd = torch.library.custom_op("ptxfmha::bwd", mutates_args=())(_bwd_kernel)


@bwd.register_fake
def _bwd_fake(dout, q, k, v, out, lse, causal, softmax_scale, deterministic, window_left=-1, window_right=-1,
              softcap=0.0, sinks=None, alibi_slopes=None, cu_seqlens_q=None, cu_seqlens_k=None, seqused_k=None,
              max_seqlen_q=0, max_seqlen_k=0):
    pr = _bwd_problem(dout, q, k, v, out, lse, sinks, alibi_slopes, cu_seqlens_q, cu_seqlens_k, seqused_k,
                      max_seqlen_q, max_seqlen_k)
    return _bwd_outputs(q, k, v, sinks, pr)


# ---- autograd of ptxfmha::attn ------------------------------------------------------------

BACKWARD_ENTRY_POINT = "ptxfmha_bwd"
_SINKS_INPUT = 14  # index of `sinks` among ptxfmha::attn's inputs


def backward_missing(cu_seqlens_q, cu_seqlens_k, seqused_k, block_table):
    """The features of a ptxfmha::attn call that ptxfmha_bwd does not have, by name ([] = the
    backward can run): paged K/V (block_table). Variable length (cu_seqlens_q / cu_seqlens_k,
    seqused_k) goes to ptxfmha_bwd's variable-length fields."""
    return ["paged K/V (block_table)"] if block_table is not None else []


def _attn_setup_context(ctx, inputs, output):
    (q, k, v, cu_seqlens_q, cu_seqlens_k, seqused_k, block_table, max_seqlen_q, max_seqlen_k, causal, softmax_scale,
     window_left, window_right, softcap, sinks, alibi_slopes, return_lse, deterministic) = inputs
    out, lse = output
    ctx.mark_non_differentiable(lse)
    ctx.missing = backward_missing(cu_seqlens_q, cu_seqlens_k, seqused_k, block_table)
    ctx.have_lse = bool(return_lse)
    if not ctx.missing:
        # The window as the forward read it (causal = right 0; a bound covering the sequence dropped):
        # the longest sequences are max_seqlen_q / max_seqlen_k with packed sides.
        len_q = max_seqlen_q if cu_seqlens_q is not None else q.shape[1]
        len_k = max_seqlen_k if cu_seqlens_k is not None else k.shape[1]
        left, right = _checks.effective_window(causal, window_left, window_right, len_q, len_k)
        ctx.causal, ctx.window = right == 0, (left, right)
        ctx.max_seqlen = (max_seqlen_q, max_seqlen_k)
    ctx.softmax_scale, ctx.deterministic, ctx.softcap = softmax_scale, deterministic, softcap
    ctx.save_for_backward(q, k, v, out, lse, sinks, alibi_slopes, cu_seqlens_q, cu_seqlens_k, seqused_k)


def _attn_backward(ctx, grad_out, grad_lse):
    if ctx.missing:
        raise NotImplementedError(
            f"ptxfmha: the backward pass ({BACKWARD_ENTRY_POINT}) has no {', '.join(ctx.missing)} yet; it "
            "computes fixed-length and variable-length attention (causal, full or windowed, softcap, ALiBi, "
            "sinks, GQA). Run such a forward under torch.no_grad() / inference_mode(), or train with another "
            "attention")
    if not ctx.have_lse:
        raise RuntimeError(
            "ptxfmha::attn ran with return_lse=False, but its backward needs the forward's LSE: call "
            "ptxfmha.attention() (it asks for the LSE whenever a gradient is needed) or the op with return_lse=True")
    q, k, v, out, lse, sinks, alibi_slopes, cu_seqlens_q, cu_seqlens_k, seqused_k = ctx.saved_tensors
    grads = [None] * 18
    if grad_out is not None:
        # .contiguous(): a gradient may be an expanded view (stride 0, e.g. of out.sum()).
        args = (grad_out.contiguous(), q, k, v, out, lse, ctx.causal, ctx.softmax_scale, ctx.deterministic,
                ctx.window[0], ctx.window[1], ctx.softcap, sinks, alibi_slopes, cu_seqlens_q, cu_seqlens_k,
                seqused_k, ctx.max_seqlen[0], ctx.max_seqlen[1])
        # create_graph: through the op, which has no autograd (double backward is refused there).
        kernels = None if torch.is_grad_enabled() else _eager_kernels(q, k, v, out, lse, args[0], sinks, alibi_slopes)
        if kernels is not None:
            dq, dk, dv, d_sink = _eager_call(kernels, "bwd", args)
        else:
            dq, dk, dv, d_sink = torch.ops.ptxfmha.bwd(*args)
        grads[0:3] = dq, dk, dv
        if ctx.needs_input_grad[_SINKS_INPUT]:
            grads[_SINKS_INPUT] = d_sink
    return tuple(grads)


attn.register_autograd(_attn_backward, setup_context=_attn_setup_context)


class _AttnFunction(torch.autograd.Function):
    """The autograd of ptxfmha::attn for the eager fast path: the same setup and backward as
    the op's (_attn_setup_context, _attn_backward), without the op's dispatch."""

    @staticmethod
    def forward(ctx, *inputs):
        output = _eager_call(EAGER_KERNELS[inputs[0].device.type], "attn", inputs)
        _attn_setup_context(ctx, inputs, output)
        return output

    backward = staticmethod(_attn_backward)


def _run_attn(*inputs):
    """ptxfmha::attn(*inputs): the eager fast path when it applies, else the custom op."""
    q, k, v, cu_q, cu_k, seqused_k, block_table = inputs[:7]
    sinks, alibi_slopes = inputs[14], inputs[15]
    kernels = _eager_kernels(q, k, v, cu_q, cu_k, seqused_k, block_table, sinks, alibi_slopes)
    if kernels is None:
        return torch.ops.ptxfmha.attn(*inputs)
    if _needs_grad(q, k, v, sinks):
        return _AttnFunction.apply(*inputs)
    return _eager_call(kernels, "attn", inputs)


# ---- ptxfmha::decode_attn -----------------------------------------------------------------

def _decode_outputs(q, prob, return_lse):
    o_shape, lse_shape = prob.out_shapes(return_lse)
    return q.new_empty(o_shape), q.new_empty(lse_shape, dtype=torch.float32)


def _decode_attn_kernel(
    q: Tensor,
    k_cache: Tensor,
    v_cache: Tensor,
    cache_seqlens: Optional[Tensor],
    block_table: Optional[Tensor],
    causal: bool,
    softmax_scale: float,
    window_left: int,
    window_right: int,
    softcap: float,
    sinks: Optional[Tensor],
    alibi_slopes: Optional[Tensor],
    num_splits: int,
    return_lse: bool,
    k_scale: Optional[Tensor],
    v_scale: Optional[Tensor],
) -> tuple[Tensor, Tensor]:
    """ptxfmha_decode_attn: 1..8 query tokens per sequence against a contiguous or paged KV cache,
    bf16 or float8_e4m3fn (then k_scale / v_scale fp32 [1] or [heads_kv]; q and out bf16)."""
    key = ("decode_attn", _tkey(q), _tkey(k_cache), _tkey(v_cache), _tkey(cache_seqlens), _tkey(block_table),
           _tkey(sinks), _tkey(alibi_slopes), _tkey(k_scale), _tkey(v_scale), causal, softmax_scale, window_left,
           window_right, softcap, num_splits, return_lse)
    plan = _PLANS.get(key)
    prob = plan[0] if plan is not None else _checks.decode_problem(
        "ptxfmha::decode_attn", q, k_cache, v_cache, cache_seqlens, block_table, sinks, alibi_slopes, k_scale, v_scale)
    out, lse = _decode_outputs(q, prob, return_lse)
    lse_arg = lse if return_lse else None
    with device_context(_ordinal(q.device)):
        if plan is None:
            params = _checks.decode_attn_params(prob, q, k_cache, v_cache, out, lse_arg, cache_seqlens, block_table,
                                                causal, softmax_scale, window_left, window_right, softcap, sinks,
                                                alibi_slopes, num_splits, 0, 0, _stream(q.device), k_scale, v_scale)
            _remember(key, (prob, bytes(params)))
        else:
            params = _checks.fill(_abi.DecodeAttnParams.from_buffer_copy(plan[1]), _checks.decode_pointers(
                q, k_cache, v_cache, out, lse_arg, cache_seqlens, block_table, sinks, alibi_slopes, _stream(q.device),
                k_scale, v_scale))
        ws = _workspace("ptxfmha_decode_attn_workspace_size", params, q.device)  # noqa: F841 (kept alive)
        _lib.call("ptxfmha_decode_attn", ctypes.byref(params))
    return out, lse


decode_attn = torch.library.custom_op("ptxfmha::decode_attn", mutates_args=())(_decode_attn_kernel)


@decode_attn.register_fake
def _decode_attn_fake(q, k_cache, v_cache, cache_seqlens, block_table, causal, softmax_scale, window_left,
                      window_right, softcap, sinks, alibi_slopes, num_splits, return_lse, k_scale, v_scale):
    prob = _checks.decode_problem("ptxfmha::decode_attn", q, k_cache, v_cache, cache_seqlens, block_table, sinks,
                                  alibi_slopes, k_scale, v_scale)
    return _decode_outputs(q, prob, return_lse)


def _no_saved_state(ctx, inputs, output):
    pass


def _decode_backward(ctx, grad_out, grad_lse):
    raise NotImplementedError(
        "ptxfmha.attention_with_kvcache (ptxfmha_decode_attn) has no backward: the KV-cache path is for "
        "inference, as flash_attn_with_kvcache"
    )


decode_attn.register_autograd(_decode_backward, setup_context=_no_saved_state)


def _run_decode_attn(*inputs):
    """ptxfmha::decode_attn(*inputs): the eager fast path when it applies and no gradient is
    asked for (the op's autograd raises in backward), else the custom op."""
    q, k_cache, v_cache, cache_seqlens, block_table = inputs[:5]
    kernels = _eager_kernels(q, k_cache, v_cache, cache_seqlens, block_table, inputs[10], inputs[11], inputs[14],
                             inputs[15])
    if kernels is None or _needs_grad(q, k_cache, v_cache, inputs[10]):
        return torch.ops.ptxfmha.decode_attn(*inputs)
    return _eager_call(kernels, "decode_attn", inputs)


EAGER_KERNELS["cuda"] = {"attn": _attn_kernel, "bwd": _bwd_kernel, "decode_attn": _decode_attn_kernel}


# ---- public functions -----------------------------------------------------------------------

def _check_q(fn, q, ndim=4, what="[batch, seqlen, heads, head_dim]"):
    """q checked before its shape is used for defaults. Skipped while torch.compile traces
    (the op's fake implementation runs the full checks then, outside Dynamo's bytecode
    analysis)."""
    if not torch.compiler.is_compiling():
        _checks.check_tensor(fn, "q", q, ndim, what=what, empty_dim0=ndim == 3)


def _head_vector(fn, name, x, alias=None, alias_name=None):
    """sinks / alibi_slopes as the fp32 contiguous vector the ABI takes (None passes); `alias`
    is another spelling of the same argument (s_aux for sinks, as transformers' gpt-oss passes)."""
    if alias is not None:
        if x is not None:
            raise ArgumentError(f"{fn}: {name} and {alias_name} are the same argument; give one",
                                function=fn, argument=alias_name)
        x = alias
    if x is None:
        return None
    if not isinstance(x, torch.Tensor):
        raise ArgumentError(f"{fn}: {name} must be a float tensor [heads_q], got {type(x).__name__}",
                            function=fn, argument=name)
    return x.to(torch.float32).contiguous()


def _needs_grad(*tensors):
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _features(fn, window_size, softcap, alibi_slopes, sinks):
    """(window_left, window_right, softcap, sinks, alibi_slopes) as the ops take them."""
    left, right = _checks.resolve_window(fn, window_size)
    return (left, right, _checks.resolve_softcap(fn, softcap), _head_vector(fn, "sinks", sinks),
            _head_vector(fn, "alibi_slopes", alibi_slopes))


def attention(q, k, v, causal=False, softmax_scale=None, return_lse=False, *, dropout_p=0.0,
              window_size=(-1, -1), softcap=0.0, alibi_slopes=None, sinks=None, deterministic=False):
    """Attention over [batch, seqlen, heads, head_dim] bf16 CUDA tensors (flash_attn_func's layout).

    q [b, sq, hq, d], k and v [b, sk, hkv, d] with hq % hkv == 0 (GQA/MQA); any strides whose
    batch/seq/head steps are multiples of 8 elements, head_dim contiguous. `causal` is bottom-right
    aligned: query i sees keys j <= i + sk - sq (a row that sees no key gets 0 and lse -inf).
    softmax_scale defaults to 1/sqrt(d). window_size=(left, right): keys d-left .. d+right of the
    diagonal d = i + sk - sq (-1 = unbounded; causal means right = 0). softcap > 0: scores ->
    softcap * tanh(scores / softcap). alibi_slopes [hq]: -slope * |d - j| added to the scores.
    sinks [hq]: one extra logit per head in the softmax denominator (gpt-oss). Sinks and slopes
    are taken as float32. Returns out [b, sq, hq, d] bf16, and with return_lse=True also lse
    [b, hq, sq] fp32 (natural log; not differentiable).

    Differentiable in q, k, v and sinks (ptxfmha_bwd), with every feature above;
    deterministic=True sums dQ in a fixed order (bitwise reproducible gradients). A feature
    without a kernel on this device raises ArgumentError with status ERR_UNSUPPORTED_FEATURE
    naming it. Raises ArgumentError (ValueError) for bad arguments and DeviceError
    (RuntimeError) for driver/device/cubin problems.
    """
    fn = "ptxfmha.attention"
    _checks.check_flash_extras(fn, dropout_p)
    _check_q(fn, q)
    scale = _checks.resolve_scale(fn, softmax_scale, q.shape[-1])
    left, right, cap, sinks, alibi_slopes = _features(fn, window_size, softcap, alibi_slopes, sinks)
    want_lse = bool(return_lse) or _needs_grad(q, k, v, sinks)
    out, lse = _run_attn(q, k, v, None, None, None, None, 0, 0, bool(causal), scale, left, right, cap,
                                      sinks, alibi_slopes, want_lse, bool(deterministic))
    return (out, lse) if return_lse else out


def attention_varlen(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, causal=False,
                     softmax_scale=None, return_lse=False, *, seqused_k=None, block_table=None,
                     dropout_p=0.0, window_size=(-1, -1), softcap=0.0, alibi_slopes=None, sinks=None,
                     deterministic=False):
    """Variable-length attention over packed sequences (flash_attn_varlen_func's layout).

    q [total_q, hq, d] packs the queries of `batch` sequences, sequence b owning rows
    cu_seqlens_q[b] .. cu_seqlens_q[b+1] (cu_seqlens_q int32 [batch + 1], on the GPU);
    max_seqlen_q (a host int) bounds every length. K/V either packed the same way,
    k/v [total_k, hkv, d] with cu_seqlens_k / max_seqlen_k, or paged, k/v [num_pages, page_size,
    hkv, d] with block_table int32 [batch, max_blocks_per_seq] (cu_seqlens_k None; the keys per
    sequence from seqused_k, or max_seqlen_k for all, 0 = every page of the row). seqused_k int32
    [batch]: keys actually present per sequence (at most its cu_seqlens_k length). Masking,
    softcap, ALiBi and sinks as attention(), per sequence (causal is bottom-right per sequence).
    Returns out [total_q, hq, d] (rows of no sequence are not written) and with return_lse=True
    lse [hq, total_q] fp32. Metadata is read on the GPU: the kernels clamp whatever it holds (no
    out-of-bounds access); check_metadata() reports entries that would need clamping.
    Differentiable in q, k, v and sinks (ptxfmha_bwd with the same packed layouts; rows of no
    sequence and keys past seqused_k get gradient 0); paged K/V has no backward.
    """
    fn = "ptxfmha.attention_varlen"
    _checks.check_flash_extras(fn, dropout_p)
    _check_q(fn, q, 3, "[total_q, heads_q, head_dim] (packed)")
    if cu_seqlens_q is None:
        raise ArgumentError(f"{fn}: cu_seqlens_q is required (use attention() for fixed-length batches)",
                            function=fn, argument="cu_seqlens_q")
    if cu_seqlens_k is None and block_table is None:
        raise ArgumentError(f"{fn}: give cu_seqlens_k (packed K/V) or block_table (paged K/V)",
                            function=fn, argument="cu_seqlens_k")
    scale = _checks.resolve_scale(fn, softmax_scale, q.shape[-1])
    left, right, cap, sinks, alibi_slopes = _features(fn, window_size, softcap, alibi_slopes, sinks)
    want_lse = bool(return_lse) or _needs_grad(q, k, v, sinks)
    out, lse = _run_attn(q, k, v, cu_seqlens_q, cu_seqlens_k, seqused_k, block_table,
                                      _checks.check_int(fn, "max_seqlen_q", max_seqlen_q, 0),
                                      _checks.check_int(fn, "max_seqlen_k", max_seqlen_k, 0), bool(causal), scale,
                                      left, right, cap, sinks, alibi_slopes, want_lse, bool(deterministic))
    return (out, lse) if return_lse else out


def _paged_seqused(fn, cu_seqlens_k, seqused_k):
    """flash_attn_varlen_func's paged form passes cu_seqlens_k (the key lengths); the C ABI
    takes those lengths as seqused_k."""
    if cu_seqlens_k is None:
        return seqused_k
    if seqused_k is not None:
        raise ArgumentError(f"{fn}: with block_table give the key lengths once: cu_seqlens_k or seqused_k",
                            function=fn, argument="seqused_k")
    return (cu_seqlens_k[1:] - cu_seqlens_k[:-1]).to(torch.int32)


def flash_attn_varlen_func(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, dropout_p=0.0,
                           softmax_scale=None, causal=False, window_size=(-1, -1), softcap=0.0, alibi_slopes=None,
                           deterministic=False, return_attn_probs=False, block_table=None, *, seqused_k=None,
                           sinks=None, s_aux=None, return_lse=False):
    """flash_attn.flash_attn_varlen_func's signature over attention_varlen(); with block_table,
    cu_seqlens_k holds the key lengths as in FlashAttention (passed on as seqused_k).
    return_attn_probs is refused (return_lse=True gives the LSE); s_aux is sinks."""
    fn = "ptxfmha.flash_attn_varlen_func"
    _checks.check_flash_extras(fn, dropout_p, return_attn_probs)
    if block_table is not None:
        seqused_k, cu_seqlens_k = _paged_seqused(fn, cu_seqlens_k, seqused_k), None
    sinks = _head_vector(fn, "sinks", sinks, s_aux, "s_aux")
    return attention_varlen(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, causal=causal,
                            softmax_scale=softmax_scale, return_lse=return_lse, seqused_k=seqused_k,
                            block_table=block_table, window_size=window_size, softcap=softcap,
                            alibi_slopes=alibi_slopes, sinks=sinks, deterministic=deterministic)


def attention_with_kvcache(q, k_cache, v_cache, cache_seqlens=None, block_table=None, causal=False,
                           softmax_scale=None, return_lse=False, num_splits=0, *, k=None, v=None,
                           rotary_cos=None, rotary_sin=None, cache_batch_idx=None, cache_leftpad=None,
                           window_size=(-1, -1), softcap=0.0, alibi_slopes=None, sinks=None, k_scale=None,
                           v_scale=None, k_descale=None, v_descale=None, q_descale=None):
    """Attention of new query tokens against a KV cache (flash_attn_with_kvcache's core).

    q [b, sq, hq, d]; the cache is either contiguous, k_cache/v_cache [b, seqlen_cache, hkv, d],
    or paged, [num_pages, page_size, hkv, d] with block_table int32 [b, max_blocks_per_seq]
    (page_size a power of two in 16..256); cache_seqlens int32 [b] (or an int) is the number of
    keys of each sequence (None: all of seqlen_cache, or max_blocks_per_seq * page_size).
    causal is bottom-right: new query i of sequence b sees keys j <= i + cache_seqlens[b] - sq.
    window_size, softcap, alibi_slopes and sinks as attention(). 1..8 query tokens run
    ptxfmha_decode_attn (split-KV); more run ptxfmha_attn with the same semantics (fixed Q
    against the contiguous or paged cache, cache_seqlens as seqused_k). Appending k/v to the
    cache, rotary, cache_batch_idx and cache_leftpad are refused (update the cache first, then
    call this). Returns out [b, sq, hq, d] (and lse [b, hq, sq] with return_lse=True). No
    backward for the decode kernel (inference); the prefill route has attention()'s.

    FP8 cache: k_cache and v_cache both torch.float8_e4m3fn (q and out stay bf16), with k_scale
    and v_scale the dequantisation multipliers, K = k_scale * k_cache, V = v_scale * v_cache:
    a Python float or an fp32 tensor on q's device of shape [] / [1] (per tensor) or [heads_kv]
    (per KV head), read on the GPU at launch (a replayed CUDA graph reads its current values;
    they must be finite and > 0, not checked). k_descale / v_descale are FlashAttention-3's
    names for the same multipliers (its shape [batch, heads_kv] is taken when every row is the
    same by construction: batch 1 or a stride-0 batch dim). Every layout and feature above works
    with an FP8 cache on the decode kernels (1..8 query tokens); more query tokens with an FP8
    cache are refused (ptxfmha_attn reads bf16 K/V only).
    """
    fn = "ptxfmha.attention_with_kvcache"
    for name, value in (("k", k), ("v", v), ("rotary_cos", rotary_cos), ("rotary_sin", rotary_sin),
                        ("cache_batch_idx", cache_batch_idx), ("cache_leftpad", cache_leftpad)):
        if value is not None:
            _checks.refuse(fn, name, "<tensor>", "None (append new keys/values to the cache before the call)")
    _check_q(fn, q)
    cache_seqlens = _kvcache_args(fn, q, cache_seqlens, num_splits)
    scale = _checks.resolve_scale(fn, softmax_scale, q.shape[-1])
    left, right, cap, sinks, alibi_slopes = _features(fn, window_size, softcap, alibi_slopes, sinks)
    k_scale, v_scale = _kv_scales(fn, q, k_cache, k_scale, v_scale, k_descale, v_descale, q_descale)
    if q.shape[1] > _checks.DECODE_MAX_SEQLEN_Q:
        _refuse_prefill_fp8(fn, q, k_cache, v_cache, k_scale, v_scale)
        out, lse = _run_attn(q, k_cache, v_cache, None, None, cache_seqlens, block_table, 0, 0,
                                          bool(causal), scale, left, right, cap, sinks, alibi_slopes,
                                          bool(return_lse) or _needs_grad(q, k_cache, v_cache, sinks), False)
    else:
        out, lse = _run_decode_attn(q, k_cache, v_cache, cache_seqlens, block_table, bool(causal), scale,
                                                 left, right, cap, sinks, alibi_slopes, num_splits, bool(return_lse),
                                                 k_scale, v_scale)
    return (out, lse) if return_lse else out


def flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, window_size=(-1, -1),
                    softcap=0.0, alibi_slopes=None, deterministic=False, return_attn_probs=False, *,
                    sinks=None, s_aux=None):
    """flash_attn.flash_attn_func's signature over attention() (return_attn_probs refused;
    s_aux is sinks)."""
    fn = "ptxfmha.flash_attn_func"
    _checks.check_flash_extras(fn, return_attn_probs=return_attn_probs)
    return attention(q, k, v, causal=causal, softmax_scale=softmax_scale, dropout_p=dropout_p,
                     window_size=window_size, softcap=softcap, alibi_slopes=alibi_slopes,
                     sinks=_head_vector(fn, "sinks", sinks, s_aux, "s_aux"), deterministic=deterministic)


def flash_attn_with_kvcache(q, k_cache, v_cache, k=None, v=None, rotary_cos=None, rotary_sin=None,
                            cache_seqlens=None, cache_batch_idx=None, cache_leftpad=None, block_table=None,
                            softmax_scale=None, causal=False, window_size=(-1, -1), softcap=0.0,
                            rotary_interleaved=True, alibi_slopes=None, num_splits=0,
                            return_softmax_lse=False, *, sinks=None, s_aux=None, k_scale=None, v_scale=None,
                            q_descale=None, k_descale=None, v_descale=None):
    """flash_attn.flash_attn_with_kvcache's signature over attention_with_kvcache() (s_aux is
    sinks; k_descale / v_descale, FlashAttention-3's names, are k_scale / v_scale)."""
    fn = "ptxfmha.flash_attn_with_kvcache"
    return attention_with_kvcache(q, k_cache, v_cache, cache_seqlens=cache_seqlens, block_table=block_table,
                                  causal=causal, softmax_scale=softmax_scale, return_lse=return_softmax_lse,
                                  num_splits=num_splits, k=k, v=v, rotary_cos=rotary_cos,
                                  rotary_sin=rotary_sin, cache_batch_idx=cache_batch_idx,
                                  cache_leftpad=cache_leftpad, window_size=window_size, softcap=softcap,
                                  alibi_slopes=alibi_slopes, sinks=_head_vector(fn, "sinks", sinks, s_aux, "s_aux"),
                                  k_scale=k_scale, v_scale=v_scale, k_descale=k_descale, v_descale=v_descale,
                                  q_descale=q_descale)


# ---- metadata checks (synchronous, not for torch.compile) -----------------------------------

def check_metadata(q, k, v, cu_seqlens_q=None, cu_seqlens_k=None, max_seqlen_q=0, max_seqlen_k=0, *,
                   seqused_k=None, block_table=None):
    """ptxfmha_check_metadata on the arguments of attention_varlen() (or attention() with
    seqused_k / block_table): waits for the current stream, reads cu_seqlens_q, cu_seqlens_k,
    seqused_k and block_table back and raises ArgumentError (status ERR_INVALID_METADATA or
    ERR_INVALID_PAGE_TABLE) naming the first entry the kernels would have to clamp (offsets not
    starting at 0 / decreasing / past the packed rows / longer than max_seqlen, seqused_k past
    its sequence, page ids outside the pool). Returns None when every entry is valid. Allocates
    an output-sized scratch (the parameter block is checked exactly as the call would be)."""
    fn = "ptxfmha.check_metadata"
    _check_q(fn, q, 3 if cu_seqlens_q is not None else 4)
    pr = _checks.attn_problem(fn, q, k, v, cu_seqlens_q, cu_seqlens_k, seqused_k, block_table, max_seqlen_q,
                              max_seqlen_k)
    out, _ = _attn_outputs(q, pr, False)
    if pr.query_rows == 0:
        return None
    with device_context(_ordinal(q.device)):
        params = _attn_params(pr, q, k, v, out, None, cu_seqlens_q, cu_seqlens_k, seqused_k, block_table, False,
                              1.0, -1, -1, 0.0, None, None)
        _lib.call("ptxfmha_check_metadata", ctypes.byref(params))
    return None


def check_kvcache_metadata(q, k_cache, v_cache, cache_seqlens=None, block_table=None, *, k_scale=None,
                           v_scale=None):
    """check_metadata() for attention_with_kvcache()'s arguments: the check of the entry point
    the call would take (ptxfmha_check_decode_metadata for 1..8 query tokens, else
    ptxfmha_check_metadata): cache_seqlens within the cache, the pages each sequence needs
    inside the pool. An FP8 cache needs its k_scale / v_scale (the block is validated as the
    call's)."""
    fn = "ptxfmha.check_kvcache_metadata"
    _check_q(fn, q)
    cache_seqlens = _kvcache_args(fn, q, cache_seqlens, 0)
    k_scale, v_scale = _kv_scales(fn, q, k_cache, k_scale, v_scale, None, None, None)
    if q.shape[1] > _checks.DECODE_MAX_SEQLEN_Q:
        _refuse_prefill_fp8(fn, q, k_cache, v_cache, k_scale, v_scale)
        return check_metadata(q, k_cache, v_cache, seqused_k=cache_seqlens, block_table=block_table)
    prob = _checks.decode_problem(fn, q, k_cache, v_cache, cache_seqlens, block_table, k_scale=k_scale,
                                  v_scale=v_scale)
    out = q.new_empty(prob.out_shapes(False)[0])
    with device_context(_ordinal(q.device)):
        params = _checks.decode_attn_params(prob, q, k_cache, v_cache, out, None, cache_seqlens, block_table, False,
                                            1.0, -1, -1, 0.0, None, None, 0, 0, 0, _stream(q.device), k_scale,
                                            v_scale)
        _lib.call("ptxfmha_check_decode_metadata", ctypes.byref(params))
    return None
