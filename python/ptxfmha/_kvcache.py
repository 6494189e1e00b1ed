"""attention_with_kvcache()'s argument handling (ops.py): cache_seqlens given as an int,
num_splits, the FP8 cache's k_scale / v_scale (and FlashAttention-3's k_descale / v_descale),
and the refusal of an FP8 cache on the prefill route."""

import math

import torch

from . import _checks
from .errors import ArgumentError


def kvcache_args(fn, q, cache_seqlens, num_splits):
    if isinstance(cache_seqlens, int) and not isinstance(cache_seqlens, bool):
        cache_seqlens = torch.full((q.shape[0],), cache_seqlens, dtype=torch.int32, device=q.device)
    if isinstance(num_splits, bool) or not isinstance(num_splits, int):
        raise ArgumentError(f"{fn}: num_splits must be an int (0 = chosen by the library)",
                            function=fn, argument="num_splits")
    return cache_seqlens


def _is_fp8(t):
    return isinstance(t, torch.Tensor) and t.dtype == torch.float8_e4m3fn


def _kv_scale(fn, name, x, alias, alias_name, q, k_cache):
    """k_scale / v_scale as the decode op takes them: None, or an fp32 tensor [] / [1] /
    [heads_kv] (checked by the op). A Python float becomes a one-element tensor on q's device
    (a fill kernel: capturable in a CUDA graph, traced by torch.compile). `alias` is
    FlashAttention-3's k_descale / v_descale: the same multiplier (K = k_descale * k_fp8),
    shaped [batch, heads_kv] there; a [batch, heads_kv] tensor is taken when its rows are one
    row by construction (batch 1, or batch stride 0, e.g. scale.expand(batch, -1)), since the
    C ABI has one scale per tensor or per KV head, not per sequence."""
    if alias is not None:
        if x is not None:
            raise ArgumentError(f"{fn}: {name} and {alias_name} are the same argument (the dequantisation "
                                "multiplier); give one", function=fn, argument=alias_name)
        x, name = alias, alias_name
        if isinstance(x, torch.Tensor) and x.dim() == 2:
            b, h = q.shape[0], k_cache.shape[2] if isinstance(k_cache, torch.Tensor) and k_cache.dim() == 4 else -1
            if tuple(x.shape) != (b, h):
                raise ArgumentError(f"{fn}: {name} has shape {tuple(x.shape)}; FlashAttention-3's form is "
                                    f"[batch, heads_kv] = [{b}, {h}] (or give [], [1] or [heads_kv])",
                                    function=fn, argument=name)
            if b > 1 and x.stride(0) != 0:
                raise ArgumentError(f"{fn}: {name} [batch, heads_kv] must be the same for every sequence (batch 1 or "
                                    f"a stride-0 batch dim, e.g. scale.expand({b}, -1)): the C ABI takes one scale "
                                    "per tensor or per KV head, not per sequence", function=fn, argument=name)
            x = x[0]
            if h > 1 and x.stride(0) == 0:
                x = x[:1]
    if x is None or isinstance(x, torch.Tensor):
        return x
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ArgumentError(f"{fn}: {name} must be a float or a float32 tensor [], [1] or [heads_kv], got "
                            f"{type(x).__name__}", function=fn, argument=name)
    if not (math.isfinite(x) and x > 0):
        raise ArgumentError(f"{fn}: {name} = {x!r} must be finite and > 0", function=fn, argument=name)
    return torch.full((1,), float(x), dtype=torch.float32, device=q.device)


def kv_scales(fn, q, k_cache, k_scale, v_scale, k_descale, v_descale, q_descale):
    """(k_scale, v_scale) of attention_with_kvcache() (_kv_scale); q_descale is refused (q stays
    bf16: only the cache is FP8)."""
    if q_descale is not None:
        _checks.refuse(fn, "q_descale", "<tensor>", "None (q is bfloat16; only the KV cache may be float8_e4m3fn)")
    return (_kv_scale(fn, "k_scale", k_scale, k_descale, "k_descale", q, k_cache),
            _kv_scale(fn, "v_scale", v_scale, v_descale, "v_descale", q, k_cache))


def refuse_prefill_fp8(fn, q, k_cache, v_cache, k_scale, v_scale):
    """More than 8 query tokens go to ptxfmha_attn, whose K/V are bf16 only."""
    for name, t in (("k_cache", k_cache), ("v_cache", v_cache)):
        if _is_fp8(t):
            raise ArgumentError(f"{fn}: {name} is float8_e4m3fn, which only the decode kernels read (1..8 query "
                                f"tokens); q has {q.shape[1]} (dequantise the cache to bf16 for a longer query)",
                                function=fn, argument=name)
    for name, t in (("k_scale", k_scale), ("v_scale", v_scale)):
        if t is not None:
            raise ArgumentError(f"{fn}: {name} is given but the cache is not float8_e4m3fn", function=fn,
                                argument=name)
