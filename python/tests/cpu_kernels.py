"""Stand-in kernels for the CPU tests of the torch layer (no GPU): CPU implementations of the
custom ops ptxfmha::attn, ptxfmha::decode_attn and ptxfmha::bwd computed by reference.py, and
a log of every call with its arguments.

They let the CPU tests run everything the package does in Python - argument handling, routing
to the ops, autograd (saved tensors, the LSE asked for, the backward's arguments, GQA shapes),
torch.compile tracing of forward and backward through the fake implementations, the
transformers integration including padding -> varlen - with the kernels' numerics replaced by
float64 math. install() widens _checks.ACCEPTED_DEVICES (and the dtypes, for float32 models)
for the test only; the package itself refuses CPU tensors. The GPU tests check the kernels."""

import torch

import ptxfmha
from ptxfmha import _checks
from reference import (attention_bwd_ref, attention_grads_ref, attention_ref, dequantize, gather_pages, varlen_grads_ref,
                       varlen_ref)

CALLS = []  # (op, {argument: value}) of every stand-in call, appended in call order
_registered = []


def _log(op, **kw):
    CALLS.append((op, kw))


def attn_cpu(q, k, v, cu_seqlens_q, cu_seqlens_k, seqused_k, block_table, max_seqlen_q, max_seqlen_k, causal,
             softmax_scale, window_left, window_right, softcap, sinks, alibi_slopes, return_lse, deterministic):
    pr = _checks.attn_problem("ptxfmha::attn", q, k, v, cu_seqlens_q, cu_seqlens_k, seqused_k, block_table,
                              max_seqlen_q, max_seqlen_k, sinks, alibi_slopes)
    _log("attn", varlen_q=pr.varlen_q, varlen_k=pr.varlen_k, paged=pr.paged, seqused_k=seqused_k is not None,
         causal=causal, scale=softmax_scale, window=(window_left, window_right), softcap=softcap,
         sinks=sinks is not None, alibi=alibi_slopes is not None, return_lse=return_lse,
         deterministic=deterministic, q_shape=tuple(q.shape))
    kw = dict(causal=causal, scale=softmax_scale, window=(window_left, window_right), softcap=softcap, sinks=sinks,
              alibi=alibi_slopes)
    if pr.varlen_q:
        cu_k = cu_seqlens_k
        kk, vv = k, v
        if cu_k is None and block_table is None:  # fixed K with varlen Q: sequence b is k[b]
            kk, vv = k.reshape(-1, *k.shape[2:]), v.reshape(-1, *v.shape[2:])
            cu_k = torch.arange(0, (pr.batch + 1) * pr.seqlen_k, pr.seqlen_k, dtype=torch.int32)
        o, lse = varlen_ref(q, kk, vv, cu_seqlens_q, cu_k, seqused_k=seqused_k, block_table=block_table,
                            seqlen_k=pr.seqlen_k, **kw)
    else:
        if block_table is not None:
            kk, vv = gather_pages(k, block_table, pr.seqlen_k), gather_pages(v, block_table, pr.seqlen_k)
        elif cu_seqlens_k is not None:
            ck = cu_seqlens_k.tolist()
            n = max(ck[b + 1] - ck[b] for b in range(pr.batch))
            kk = k.new_zeros(pr.batch, n, *k.shape[1:])
            vv = v.new_zeros(pr.batch, n, *v.shape[1:])
            lens = torch.tensor([ck[b + 1] - ck[b] for b in range(pr.batch)])
            for b in range(pr.batch):
                kk[b, :lens[b]], vv[b, :lens[b]] = k[ck[b]:ck[b + 1]], v[ck[b]:ck[b + 1]]
            seqused_k = lens if seqused_k is None else torch.minimum(seqused_k.long(), lens)
        else:
            kk, vv = k, v
        o, lse = attention_ref(q, kk, vv, len_k=seqused_k, **kw)
    out = o.to(q.dtype).contiguous()
    return out, (lse.to(torch.float32).contiguous() if return_lse else q.new_empty((0,), dtype=torch.float32))


def decode_attn_cpu(q, k_cache, v_cache, cache_seqlens, block_table, causal, softmax_scale, window_left,
                    window_right, softcap, sinks, alibi_slopes, num_splits, return_lse, k_scale, v_scale):
    prob = _checks.decode_problem("ptxfmha::decode_attn", q, k_cache, v_cache, cache_seqlens, block_table, sinks,
                                  alibi_slopes, k_scale, v_scale)
    _log("decode_attn", paged=prob.paged, seqlens=cache_seqlens is not None, causal=causal, scale=softmax_scale,
         window=(window_left, window_right), softcap=softcap, sinks=sinks is not None,
         alibi=alibi_slopes is not None, num_splits=num_splits, return_lse=return_lse, q_shape=tuple(q.shape),
         kv_dtype=prob.kv_dtype, kv_scale_count=prob.kv_scale_count,
         k_scale=None if k_scale is None else k_scale.reshape(-1).tolist(),
         v_scale=None if v_scale is None else v_scale.reshape(-1).tolist())
    if prob.kv_dtype == _checks.KV_DTYPE_E4M3:  # the kernels' K = k_scale[s] * e4m3, in float64
        k_cache, v_cache = dequantize(k_cache, k_scale), dequantize(v_cache, v_scale)
    if block_table is not None:
        kk, vv = gather_pages(k_cache, block_table, prob.max_seqlen_k), gather_pages(v_cache, block_table,
                                                                                   prob.max_seqlen_k)
    else:
        kk, vv = k_cache, v_cache
    o, lse = attention_ref(q, kk, vv, causal=causal, scale=softmax_scale, window=(window_left, window_right),
                           softcap=softcap, sinks=sinks, alibi=alibi_slopes, len_k=cache_seqlens)
    return o.to(q.dtype).contiguous(), (lse.to(torch.float32) if return_lse else q.new_empty((0,), dtype=torch.float32))


def bwd_cpu(dout, q, k, v, out, lse, causal, softmax_scale, deterministic, window_left=-1, window_right=-1,
            softcap=0.0, sinks=None, alibi_slopes=None, cu_seqlens_q=None, cu_seqlens_k=None, seqused_k=None,
            max_seqlen_q=0, max_seqlen_k=0):
    pr = _checks.bwd_problem("ptxfmha::bwd", dout, q, k, v, out, lse, sinks, alibi_slopes, cu_seqlens_q,
                             cu_seqlens_k, seqused_k, max_seqlen_q, max_seqlen_k)
    varlen = pr.varlen_q or pr.varlen_k or seqused_k is not None
    _log("bwd", causal=causal, scale=softmax_scale, deterministic=deterministic, q_shape=tuple(q.shape),
         k_shape=tuple(k.shape), dout_contiguous=dout.is_contiguous(), window=(window_left, window_right),
         softcap=softcap, sinks=sinks is not None, alibi=alibi_slopes is not None,
         **(dict(varlen_q=pr.varlen_q, varlen_k=pr.varlen_k, seqused_k=seqused_k is not None,
                 max_seqlen=(max_seqlen_q, max_seqlen_k), lse_shape=tuple(lse.shape)) if varlen else {}))
    d_sink = q.new_empty((0,), dtype=torch.float32)
    kw = dict(causal=causal, scale=softmax_scale, window=(window_left, window_right), softcap=softcap,
              alibi=alibi_slopes)
    if varlen:
        dq, dk, dv, ds = varlen_grads_ref(dout, q, k, v, cu_seqlens_q, cu_seqlens_k, seqused_k=seqused_k,
                                          sinks=sinks, **kw)
    elif (window_left, window_right) in ((-1, -1), (-1, 0)) and softcap == 0 and sinks is None and alibi_slopes is None:
        (dq, dk, dv), ds = attention_bwd_ref(dout, q, k, v, causal=causal, scale=softmax_scale), None
    else:
        dq, dk, dv, ds = attention_grads_ref(dout, q, k, v, sinks=sinks, **kw)
    if ds is not None:
        d_sink = ds.to(torch.float32)
    return dq.to(q.dtype).contiguous(), dk.to(k.dtype).contiguous(), dv.to(v.dtype).contiguous(), d_sink


def install(monkeypatch, dtypes=("bfloat16",)):
    """Registers the stand-ins for "cpu" (once per process) and lets CPU tensors of `dtypes`
    through the package's checks for this test; clears CALLS."""
    if not _registered:
        ptxfmha.ops.attn.register_kernel("cpu")(attn_cpu)
        ptxfmha.ops.decode_attn.register_kernel("cpu")(decode_attn_cpu)
        ptxfmha.ops.bwd.register_kernel("cpu")(bwd_cpu)
        _registered.append(True)
    # The eager fast path (ops.EAGER_KERNELS) calls the same stand-ins for CPU tensors.
    monkeypatch.setitem(ptxfmha.ops.EAGER_KERNELS, "cpu", {"attn": attn_cpu, "bwd": bwd_cpu,
                                                          "decode_attn": decode_attn_cpu})
    monkeypatch.setattr(ptxfmha.ops, "_PLANS", {})  # no plan of another test's acceptance rules
    monkeypatch.setattr(_checks, "ACCEPTED_DEVICES", ("cuda", "cpu"))
    monkeypatch.setattr(_checks, "ACCEPTED_DTYPES", tuple(dtypes))
    CALLS.clear()
    return CALLS
