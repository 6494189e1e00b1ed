"""GPU tests of the FP8 (e4m3) KV cache through attention_with_kvcache (skipped without PyTorch
or a ptx-fmha GPU).

The reference is float64 attention (reference.attention_ref) on the dequantised cache,
K = k_scale[s] * k_e4m3 (reference.dequantize), with the same bf16 q: the e4m3 values are
exact in float64, so the bounds are the README's bf16 ones (gpu_util.check), recorded under
path "decode-e4m3". Cases: contiguous and paged caches, GQA and MQA, head dims 64 / 128 / 256,
per-tensor (a Python float) and per-KV-head (an fp32 [heads_kv] tensor) scales, 1 and 4 query
tokens, with and without the score features; FlashAttention-3's k_descale / v_descale;
torch.compile(fullgraph=True); CUDA-graph capture (a replay reads the scales' new values);
check_kvcache_metadata with an e4m3 cache."""

import pytest

from gpu_util import check, needs_gpu, poison_allocator, randn, run_or_skip, torch
from reference import attention_ref, dequantize

import ptxfmha
from ptxfmha import ArgumentError, Status

pytestmark = needs_gpu

E4M3_MAX = 448.0


def quantise(x, per_head):
    """(e4m3 cache, fp32 scale) with x ~= scale * e4m3: amax scaling per tensor ([1]) or per KV
    head ([heads_kv], dim 2)."""
    amax = x.float().abs().amax(dim=(0, 1, 3)) if per_head else x.float().abs().amax().reshape(1)
    scale = (amax / E4M3_MAX).clamp_min(1e-12)
    view = scale.view(1, 1, -1, 1) if per_head else scale
    return (x.float() / view).clamp(-E4M3_MAX, E4M3_MAX).to(torch.float8_e4m3fn), scale


def paged_copy(cache, ps, seed):
    """cache [b, n, hkv, d] scattered into a shuffled page pool: (pool, block_table)."""
    b, n = cache.shape[:2]
    blocks = (n + ps - 1) // ps
    g = torch.Generator(device="cuda").manual_seed(seed)
    table = torch.randperm(b * blocks + 3, generator=g, device="cuda")[:b * blocks].view(b, blocks).to(torch.int32)
    pool = torch.zeros((b * blocks + 3, ps) + tuple(cache.shape[2:]), dtype=torch.uint8, device="cuda")
    src = cache.view(torch.uint8)  # the e4m3 bytes, copied as they are
    for bi in range(b):
        for j0 in range(0, n, ps):
            m = min(ps, n - j0)
            pool[table[bi, j0 // ps], :m] = src[bi, j0:j0 + m]
    return pool.view(cache.dtype), table


# b, sq, hq, hkv, d, n, lens
CASES = [
    (3, 1, 16, 4, 128, 3000, [3000, 1234, 77]),
    (2, 4, 8, 1, 64, 1500, [1500, 513]),
    (2, 2, 16, 2, 256, 800, [800, 65]),
    (4, 1, 32, 8, 128, 4096, [4096, 1, 2049, 300]),
]


def _cid(c):
    return f"b{c[0]}_sq{c[1]}_h{c[2]}x{c[3]}_d{c[4]}_n{c[5]}"


@pytest.mark.parametrize("per_head", [False, True], ids=["per_tensor", "per_head"])
@pytest.mark.parametrize("paged", [False, True], ids=["contig", "paged"])
@pytest.mark.parametrize("case", CASES, ids=_cid)
def test_fp8_kvcache_vs_float64_dequantised_reference(case, paged, per_head):
    b, sq, hq, hkv, d, n, lens = case
    k8, ks = quantise(randn(b, n, hkv, d, seed=1) * 3, per_head)
    v8, vs = quantise(randn(b, n, hkv, d, seed=2), per_head)
    q = randn(b, sq, hq, d, seed=3)
    lens = torch.tensor(lens, dtype=torch.int32, device="cuda")
    kc, vc, table = k8, v8, None
    if paged:
        kc, table = paged_copy(k8, 64, 4)
        vc, _ = paged_copy(v8, 64, 4)
    # per tensor: Python floats (the package makes the [1] tensors); per head: fp32 [heads_kv]
    k_scale, v_scale = (ks, vs) if per_head else (ks.item(), vs.item())
    poison_allocator(b * sq * hq * d * 2)
    out, lse = ptxfmha.attention_with_kvcache(q, kc, vc, cache_seqlens=lens, block_table=table, causal=True,
                                              return_lse=True, k_scale=k_scale, v_scale=v_scale)
    ref_o, ref_lse = attention_ref(q, dequantize(k8, ks), dequantize(v8, vs), causal=True, len_k=lens)
    check(f"e4m3 {_cid(case)} {'paged' if paged else 'contig'} {'head' if per_head else 'tensor'}", "decode-e4m3",
          out, ref_o, lse, ref_lse)
    # the scales matter: V dequantised with the wrong scale is far off (the check can fail)
    wrong = attention_ref(q, dequantize(k8, ks), dequantize(v8, vs * 1.5), causal=True, len_k=lens)[0]
    assert ((out.double() - wrong).norm() / wrong.norm()).item() > 0.1


def test_fp8_kvcache_with_features_and_fa3_descale():
    b, sq, hq, hkv, d, n = 2, 2, 16, 4, 128, 2500
    k8, ks = quantise(randn(b, n, hkv, d, seed=11), True)
    v8, vs = quantise(randn(b, n, hkv, d, seed=12), True)
    q = randn(b, sq, hq, d, seed=13)
    lens = torch.tensor([2500, 900], dtype=torch.int32, device="cuda")
    sinks = randn(hq, seed=14).float()
    slopes = torch.rand(hq, device="cuda") * 0.01
    kw = dict(window_size=(700, 0), softcap=20.0, sinks=sinks, alibi_slopes=slopes)
    out = run_or_skip(ptxfmha.flash_attn_with_kvcache, q, k8, v8, cache_seqlens=lens, causal=True,
                      k_descale=ks.expand(b, hkv), v_descale=vs.expand(b, hkv), **kw)
    ref, _ = attention_ref(q, dequantize(k8, ks), dequantize(v8, vs), causal=True, window=(700, 0), softcap=20.0,
                           sinks=sinks, alibi=slopes, len_k=lens)
    check("e4m3 window+softcap+sinks+alibi fa3-descale", "decode-e4m3", out, ref)


def test_fp8_compile_and_cuda_graph_replay_reads_new_scales():
    b, hq, hkv, d, n = 2, 16, 2, 128, 2048
    k8, ks = quantise(randn(b, n, hkv, d, seed=21), True)
    v8, vs = quantise(randn(b, n, hkv, d, seed=22), True)
    q = randn(b, 1, hq, d, seed=23)
    lens = torch.tensor([2048, 999], dtype=torch.int32, device="cuda")

    def run(q, k8, v8, lens, ks, vs):
        return ptxfmha.attention_with_kvcache(q, k8, v8, cache_seqlens=lens, causal=True, k_scale=ks, v_scale=vs)

    eager = run(q, k8, v8, lens, ks, vs)
    compiled = torch.compile(run, fullgraph=True)(q, k8, v8, lens, ks, vs)
    assert torch.equal(eager, compiled), (eager - compiled).abs().max().item()

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        run(q, k8, v8, lens, ks, vs)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = run(q, k8, v8, lens, ks, vs)
    for factor, len1 in ((0.5, 350), (3.0, 2000)):
        ks.mul_(factor)
        vs.mul_(1.0 / factor)
        lens[1] = len1
        graph.replay()
        torch.cuda.synchronize()
        want = run(q, k8, v8, lens, ks, vs)
        assert torch.equal(want, out), f"replay differs from eager by {(want - out).abs().max().item()}"
        ref, _ = attention_ref(q, dequantize(k8, ks), dequantize(v8, vs), causal=True, len_k=lens)
        check(f"e4m3 graph replay x{factor}", "decode-e4m3", out, ref)


def test_fp8_check_kvcache_metadata_and_library_refusals():
    k8 = torch.zeros(8, 16, 2, 64, dtype=torch.uint8, device="cuda").view(torch.float8_e4m3fn)
    q = randn(2, 1, 4, 64, seed=31)
    table = torch.tensor([[0, 1, 2], [3, 4, 9]], dtype=torch.int32, device="cuda")
    lens = torch.tensor([48, 40], dtype=torch.int32, device="cuda")
    with pytest.raises(ArgumentError) as ei:
        ptxfmha.check_kvcache_metadata(q, k8, k8, lens, table, k_scale=1.0, v_scale=1.0)
    assert ei.value.status == Status.ERR_INVALID_PAGE_TABLE and "block_table[1][2] = 9" in str(ei.value), ei.value
    lens[1] = 32
    assert ptxfmha.check_kvcache_metadata(q, k8, k8, lens, table, k_scale=1.0, v_scale=1.0) is None
    # a head stride of 72 bytes: a multiple of 8 (enough for bf16) but not of 16 (e4m3)
    base = torch.zeros(2, 100, 2, 72, dtype=torch.uint8, device="cuda").view(torch.float8_e4m3fn)
    view = base[..., :64]
    with pytest.raises(ArgumentError) as ei:
        ptxfmha.attention_with_kvcache(q, view, view, k_scale=1.0, v_scale=1.0)
    assert ei.value.argument == "k_cache", ei.value
