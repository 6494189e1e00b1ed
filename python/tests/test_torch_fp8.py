"""The FP8 (e4m3) KV cache through the torch layer on the CPU (needs PyTorch; no GPU): the
stand-in decode kernel (cpu_kernels.py) dequantises the cache in float64 as ptxfmha.h defines it
(K = k_scale[s] * k_e4m3), so these tests check what Python does - the scale arguments
(float, [] / [1] / [heads_kv] tensors, FlashAttention-3's k_descale / v_descale), the refusals,
the op schema and fake (opcheck), torch.compile(fullgraph=True) - and the GPU test
(test_gpu_fp8.py) checks the kernels."""

import pytest

from conftest import have_module

pytestmark = pytest.mark.skipif(not have_module("torch"), reason="torch not installed")

if have_module("torch"):
    import torch

    import ptxfmha
    from reference import attention_ref, dequantize, gather_pages
    from test_torch_ops import bf16, calls, rel  # noqa: F401 (calls: the stand-in kernels' fixture)

B, HQ, HKV, D, N = 2, 8, 2, 32, 70


def fp8_cache(seed, amax=200.0):
    """e4m3 bytes spread over the format's range (up to 448)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, N, HKV, D, generator=g) * amax / 4).clamp(-448, 448).to(torch.float8_e4m3fn)


def _scale_arg(kind, value):
    """The same per-tensor or per-head multiplier spelt as each accepted form."""
    if kind == "float":
        return float(value)
    t = torch.as_tensor(value, dtype=torch.float32)
    if kind == "0d":
        return t.reshape(())
    if kind == "1":
        return t.reshape(1)
    if kind == "heads":
        return t
    if kind == "fa3":  # [batch, heads_kv], the same row for every sequence
        return (t if t.numel() > 1 else t.expand(HKV)).expand(B, HKV)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind,per_head", [("float", False), ("0d", False), ("1", False), ("heads", True),
                                           ("fa3", True), ("fa3", False)])
@pytest.mark.parametrize("paged", [False, True])
def test_fp8_kvcache_matches_the_dequantised_reference(calls, kind, per_head, paged):
    kc, vc = fp8_cache(1), fp8_cache(2)
    ks_val = [0.004, 0.0125] if per_head else 0.006
    vs_val = [0.02, 0.003] if per_head else 0.01
    q = bf16(B, 3, HQ, D, seed=3)
    lens = torch.tensor([70, 33], dtype=torch.int32)
    table = None
    kcache, vcache = kc, vc
    if paged:
        ps, blocks = 16, 5
        table = torch.randperm(B * blocks + 1, generator=torch.Generator().manual_seed(4))[:B * blocks]
        table = table.view(B, blocks).int()
        kcache = torch.zeros(B * blocks + 1, ps, HKV, D).to(torch.float8_e4m3fn)
        vcache = kcache.clone()
        for b in range(B):
            for j in range(N):
                kcache[table[b, j // ps], j % ps] = kc[b, j]
                vcache[table[b, j // ps], j % ps] = vc[b, j]
        assert torch.equal(gather_pages(kcache.view(torch.uint8), table, N), kc.view(torch.uint8))
    names = ("k_descale", "v_descale") if kind == "fa3" else ("k_scale", "v_scale")
    kw = {names[0]: _scale_arg(kind, ks_val), names[1]: _scale_arg(kind, vs_val)}
    with torch.no_grad():
        out = ptxfmha.flash_attn_with_kvcache(q, kcache, vcache, cache_seqlens=lens, block_table=table, causal=True,
                                              **kw)
    op, c = calls[-1]
    assert op == "decode_attn" and c["kv_dtype"] == 1 and c["paged"] == paged
    assert c["kv_scale_count"] == (HKV if per_head else 1)
    assert c["k_scale"] == pytest.approx(ks_val if per_head else [ks_val])
    assert c["v_scale"] == pytest.approx(vs_val if per_head else [vs_val])
    assert out.dtype == torch.bfloat16 and out.shape == q.shape
    ks_t, vs_t = torch.tensor(ks_val, dtype=torch.float64), torch.tensor(vs_val, dtype=torch.float64)
    ref, _ = attention_ref(q, dequantize(kc, ks_t), dequantize(vc, vs_t), causal=True, len_k=lens)
    assert rel(out, ref) < 1e-2
    # a mutation of the plumbing (scales swapped) must be visible
    bad, _ = attention_ref(q, dequantize(kc, vs_t), dequantize(vc, ks_t), causal=True, len_k=lens)
    assert rel(bad, ref) > 0.05


def test_fp8_refusals(calls):
    kc, vc = fp8_cache(1), fp8_cache(2)
    q = bf16(B, 1, HQ, D)
    f = ptxfmha.attention_with_kvcache

    def refused(arg, text, *args, **kw):
        with pytest.raises(ValueError, match=text) as ei:
            f(*args, **kw)
        assert ei.value.argument == arg, str(ei.value)

    refused("k_scale", "k_scale is required", q, kc, vc)
    refused("v_scale", "v_scale is required", q, kc, vc, k_scale=0.5)
    refused("v_cache", "both must be bfloat16 or both", q, kc, vc.to(torch.bfloat16), k_scale=0.5, v_scale=0.5)
    refused("k_scale", "scales are for a float8_e4m3fn cache", q, kc.to(torch.bfloat16), vc.to(torch.bfloat16),
            k_scale=0.5, v_scale=0.5)
    refused("k_descale", "same argument", q, kc, vc, k_scale=0.5, k_descale=0.5, v_scale=0.5)
    refused("q_descale", "not supported", q, kc, vc, k_scale=0.5, v_scale=0.5, q_descale=torch.ones(B, HKV))
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        refused("k_scale", "finite and > 0", q, kc, vc, k_scale=bad, v_scale=0.5)
    refused("v_scale", "must be a float", q, kc, vc, k_scale=0.5, v_scale=True)
    refused("v_scale", "must be a float", q, kc, vc, k_scale=0.5, v_scale="0.5")
    refused("k_scale", "dtype float64", q, kc, vc, k_scale=torch.tensor([0.5, 0.5], dtype=torch.float64),
            v_scale=0.5)
    refused("k_scale", "shape", q, kc, vc, k_scale=torch.ones(3), v_scale=0.5)
    refused("v_scale", "k_scale has 2 entries but v_scale has 1", q, kc, vc, k_scale=torch.ones(HKV), v_scale=0.5)
    per_seq = torch.tensor([[0.5, 0.25], [0.5, 0.125]])
    refused("k_descale", "not per sequence", q, kc, vc, k_descale=per_seq, v_descale=per_seq)
    refused("k_descale", r"\[batch, heads_kv\]", q, kc, vc, k_descale=torch.ones(3, HKV), v_descale=0.5)
    # more than 8 query tokens go to ptxfmha_attn, which reads bf16 K/V only
    refused("k_cache", "only the decode kernels read", bf16(B, 9, HQ, D), kc, vc, k_scale=0.5, v_scale=0.5)
    refused("k_scale", "not float8_e4m3fn", bf16(B, 9, HQ, D), kc.to(torch.bfloat16), vc.to(torch.bfloat16),
            k_scale=0.5)
    assert not calls  # every refusal before the op


def test_fa3_descale_forms_map_to_the_c_scales(calls):
    """k_descale [batch, heads_kv] with one row for all sequences -> [heads_kv] (per KV head);
    with one value everywhere (stride 0 in both dims) -> [1] (per tensor)."""
    kc, vc = fp8_cache(1), fp8_cache(2)
    q = bf16(B, 1, HQ, D)
    with torch.no_grad():
        ptxfmha.flash_attn_with_kvcache(q, kc, vc, k_descale=torch.tensor([0.5, 0.25]).expand(B, HKV),
                                        v_descale=torch.tensor([0.125, 2.0]).expand(B, HKV))
        assert calls[-1][1]["kv_scale_count"] == HKV and calls[-1][1]["k_scale"] == [0.5, 0.25]
        ptxfmha.flash_attn_with_kvcache(q, kc, vc, k_descale=torch.tensor(0.5).expand(B, HKV),
                                        v_descale=torch.tensor(0.125).expand(B, HKV))
        assert calls[-1][1]["kv_scale_count"] == 1 and calls[-1][1]["k_scale"] == [0.5]
        ptxfmha.flash_attn_with_kvcache(q[:1], kc[:1], vc[:1], k_descale=torch.tensor([[0.5, 0.25]]),
                                        v_descale=torch.tensor([[0.5, 0.25]]))  # batch 1: FA3's own shape
        assert calls[-1][1]["kv_scale_count"] == HKV


def test_opcheck_fp8_decode(calls):
    """opcheck of the decode op with e4m3 caches and each scale shape. test_schema is left out:
    its mutation check does arithmetic on every input, which torch's CPU float8_e4m3fn lacks
    ("mul_cpu_reduced_float" not implemented); the schema itself is the one test_torch_ops
    opchecks with bf16 caches. The fake's output shapes / strides / dtypes are compared with
    the real ones below."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    op = torch.ops.ptxfmha.decode_attn.default
    q = bf16(B, 2, HQ, D)
    for ks, vs in ((torch.full((1,), 0.01), torch.full((1,), 0.02)),
                   (torch.tensor([0.01, 0.02]), torch.tensor([0.03, 0.04])),
                   (torch.tensor(0.01), torch.tensor(0.02))):
        args = (q, fp8_cache(1), fp8_cache(2), torch.tensor([70, 17], dtype=torch.int32), None, True, 0.2, -1, -1,
                0.0, None, None, 0, True, ks, vs)
        torch.library.opcheck(op, args, test_utils=("test_autograd_registration", "test_faketensor",
                                                    "test_aot_dispatch_dynamic"))
        real = op(*args)
        with FakeTensorMode() as mode:
            fake = op(*[mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in args])
        for r, f in zip(real, fake):
            assert (tuple(r.shape), r.stride(), r.dtype) == (tuple(f.shape), f.stride(), f.dtype)
        assert real[0].dtype == torch.bfloat16


def test_fp8_decode_compiles_fullgraph(calls):
    kc, vc, q = fp8_cache(1), fp8_cache(2), bf16(B, 1, HQ, D)
    lens = torch.tensor([70, 12], dtype=torch.int32)
    heads = torch.tensor([0.01, 0.02])

    def f(q, kc, vc, lens, heads):
        a = ptxfmha.attention_with_kvcache(q, kc, vc, cache_seqlens=lens, causal=True, k_scale=0.01, v_scale=0.02)
        b = ptxfmha.flash_attn_with_kvcache(q, kc, vc, cache_seqlens=lens, k_descale=heads.expand(B, HKV),
                                            v_descale=heads.expand(B, HKV))
        return a.float().sum() + b.float().sum()

    with torch.no_grad():
        want = f(q, kc, vc, lens, heads)
        got = torch.compile(f, fullgraph=True, backend="aot_eager")(q, kc, vc, lens, heads)
    assert torch.equal(want, got)
