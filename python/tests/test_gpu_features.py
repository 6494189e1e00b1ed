"""GPU tests of the feature entry points (skipped without PyTorch or a ptx-fmha GPU): variable
length, paged prefill, seqused_k, sliding window, softcap, ALiBi, sinks, in prefill and decode,
and check_metadata.

References, float64 on the same bf16 inputs: variable length against one SDPA call per
sequence (gpu_util.reference); windows against SDPA with an explicit mask
(reference.visibility); softcap, ALiBi and sinks against reference.attention_ref (written from
ptxfmha.h's formulas, checked against explicit loops by test_torch_ops.py). A feature the
device has no kernel for yet (ERR_UNSUPPORTED_FEATURE) makes its test SKIPPED with the
library's message - never passed - so these tests turn on by themselves when the kernels land."""

import pytest

from gpu_util import F, check, needs_gpu, poison_allocator, randn, reference, run_or_skip, torch
from reference import attention_ref, visibility

import ptxfmha
from ptxfmha import ArgumentError, Status

pytestmark = needs_gpu


def _cu(lengths):
    return torch.tensor([0] + list(torch.tensor(lengths).cumsum(0).tolist()), dtype=torch.int32, device="cuda")


def _per_sequence(q, k, v, cu_q, cu_k, causal, scale, seqused=None):
    """float64 O [total_q, hq, d] and LSE [hq, total_q]: one gpu_util.reference (SDPA) call per
    sequence."""
    cq, ck = cu_q.tolist(), cu_k.tolist()
    hq, d = q.shape[1], q.shape[2]
    o = torch.zeros(q.shape[0], hq, d, dtype=torch.float64, device="cuda")
    lse = torch.full((hq, q.shape[0]), float("-inf"), dtype=torch.float64, device="cuda")
    for b in range(len(cq) - 1):
        if cq[b + 1] == cq[b]:
            continue
        lens = None if seqused is None else seqused[b:b + 1]
        ob, lb = reference(q[cq[b]:cq[b + 1]][None], k[ck[b]:ck[b + 1]][None], v[ck[b]:ck[b + 1]][None], causal,
                           scale, seqlens=lens)
        o[cq[b]:cq[b + 1]], lse[:, cq[b]:cq[b + 1]] = ob[0], lb[0]
    return o, lse


# ---- variable length -------------------------------------------------------------------------

# lengths of Q, lengths of K, hq, hkv, d, causal
VARLEN_CASES = [
    ([100, 0, 257, 1], [100, 50, 300, 64], 8, 2, 64, True),      # an empty sequence, sq < sk, a 1-row one
    ([513, 77], [513, 900], 16, 4, 128, True),
    ([33, 200, 129], [33, 200, 129], 4, 4, 256, False),
]


def _vid(c):
    return f"q{'-'.join(map(str, c[0]))}_k{'-'.join(map(str, c[1]))}_h{c[2]}x{c[3]}_d{c[4]}_{'causal' if c[5] else 'full'}"


@pytest.mark.parametrize("case", VARLEN_CASES, ids=_vid)
def test_varlen_vs_per_sequence_sdpa(case):
    lq, lk, hq, hkv, d, causal = case
    cu_q, cu_k = _cu(lq), _cu(lk)
    q, k, v = randn(sum(lq), hq, d, seed=1), randn(sum(lk), hkv, d, seed=2), randn(sum(lk), hkv, d, seed=3)
    poison_allocator(sum(lq) * hq * d * 2)
    out, lse = run_or_skip(ptxfmha.flash_attn_varlen_func, q, k, v, cu_q, cu_k, max(lq), max(lk), causal=causal,
                           return_lse=True)
    ref_o, ref_lse = _per_sequence(q, k, v, cu_q, cu_k, causal, d ** -0.5)
    check("varlen " + _vid(case), "attn", out, ref_o, lse, ref_lse)


def test_varlen_seqused_k_and_paged_kv_give_the_same_rows():
    """Packed K with seqused_k, and the same keys in a shuffled page pool (FlashAttention's
    paged varlen form: cu_seqlens_k holds the lengths), against per-sequence SDPA."""
    lq, cap, used = [70, 300, 5], [400, 300, 128], [399, 123, 128]
    hq, hkv, d, ps = 8, 1, 128, 64
    cu_q, cu_k = _cu(lq), _cu(cap)
    q, k, v = randn(sum(lq), hq, d, seed=4), randn(sum(cap), hkv, d, seed=5), randn(sum(cap), hkv, d, seed=6)
    seqused = torch.tensor(used, dtype=torch.int32, device="cuda")
    ref_o, ref_lse = _per_sequence(q, k, v, cu_q, cu_k, True, d ** -0.5, seqused=seqused)
    out, lse = run_or_skip(ptxfmha.attention_varlen, q, k, v, cu_q, cu_k, max(lq), max(cap), causal=True,
                           seqused_k=seqused, return_lse=True)
    check("varlen seqused_k", "attn", out, ref_o, lse, ref_lse)
    blocks = (max(cap) + ps - 1) // ps
    g = torch.Generator(device="cuda").manual_seed(7)
    table = torch.randperm(3 * blocks + 2, generator=g, device="cuda")[:3 * blocks].view(3, blocks).to(torch.int32)
    kc, vc = randn(3 * blocks + 2, ps, hkv, d, seed=8), randn(3 * blocks + 2, ps, hkv, d, seed=9)
    ck = cu_k.tolist()
    for b in range(3):
        for j0 in range(0, cap[b], ps):
            n = min(ps, cap[b] - j0)
            kc[table[b, j0 // ps], :n] = k[ck[b] + j0:ck[b] + j0 + n]
            vc[table[b, j0 // ps], :n] = v[ck[b] + j0:ck[b] + j0 + n]
    paged, plse = run_or_skip(ptxfmha.flash_attn_varlen_func, q, kc, vc, cu_q, _cu(used), max(lq), max(cap),
                              causal=True, block_table=table, return_lse=True)
    check("varlen paged", "attn", paged, ref_o, plse, ref_lse)


def test_varlen_without_query_rows_returns_empty_outputs():
    q = torch.empty(0, 4, 64, dtype=torch.bfloat16, device="cuda")
    k = randn(10, 4, 64, seed=10)
    out, lse = ptxfmha.attention_varlen(q, k, k, _cu([0, 0]), _cu([4, 6]), 0, 6, return_lse=True)
    assert out.shape == (0, 4, 64) and lse.shape == (4, 0)


# ---- window, softcap, ALiBi, sinks (prefill) ---------------------------------------------------

# b, sq, sk, hq, hkv, d, causal, window
WINDOW_CASES = [
    (2, 300, 300, 8, 2, 64, True, (64, 0)),
    (1, 200, 500, 4, 4, 128, True, (100, -1)),
    (2, 256, 256, 8, 8, 128, False, (32, 32)),
    (1, 130, 130, 4, 1, 256, False, (-1, 10)),
]


@pytest.mark.parametrize("case", WINDOW_CASES, ids=lambda c: f"b{c[0]}_sq{c[1]}_sk{c[2]}_d{c[5]}_"
                         f"{'causal' if c[6] else 'full'}_w{c[7][0]}x{c[7][1]}")
def test_window_vs_sdpa_with_an_explicit_mask(case):
    b, sq, sk, hq, hkv, d, causal, window = case
    q, k, v = randn(b, sq, hq, d, seed=11), randn(b, sk, hkv, d, seed=12), randn(b, sk, hkv, d, seed=13)
    poison_allocator(b * sq * hq * d * 2)
    out = run_or_skip(ptxfmha.attention, q, k, v, causal=causal, window_size=window)
    mask = visibility(sq, sk, causal=causal, window=window, device="cuda")     # [1, 1, sq, sk]
    assert mask.any(-1).all(), "every row of these cases sees a key"
    with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
        ref_o = F.scaled_dot_product_attention(
            q.double().transpose(1, 2), k.double().transpose(1, 2).repeat_interleave(hq // hkv, 1),
            v.double().transpose(1, 2).repeat_interleave(hq // hkv, 1), attn_mask=mask).transpose(1, 2)
    check(f"window {window} causal={causal} d{d}", "attn", out, ref_o)


def _vectors(hq, seed):
    g = torch.Generator(device="cuda").manual_seed(seed)
    sinks = torch.randn(hq, generator=g, device="cuda") * 2
    slopes = 2.0 ** (-8.0 * (torch.arange(hq, device="cuda") + 1) / hq)   # the ALiBi paper's slopes
    return sinks, slopes


# softcap, sinks, alibi, causal, window
SCORE_CASES = [
    (30.0, False, False, True, (-1, -1)),
    (0.0, True, False, True, (-1, -1)),
    (0.0, False, True, True, (-1, -1)),
    (0.0, False, True, False, (-1, -1)),
    (50.0, True, True, True, (128, 0)),       # everything together
]


@pytest.mark.parametrize("case", SCORE_CASES, ids=lambda c: f"softcap{c[0]:g}_sinks{int(c[1])}_alibi{int(c[2])}_"
                         f"{'causal' if c[3] else 'full'}_w{c[4][0]}")
@pytest.mark.parametrize("d", [64, 128])
def test_score_features_vs_float64_reference(case, d):
    softcap, use_sinks, use_alibi, causal, window = case
    b, sq, sk, hq, hkv = 2, 333, 400, 8, 2
    q, k, v = randn(b, sq, hq, d, seed=14), randn(b, sk, hkv, d, seed=15), randn(b, sk, hkv, d, seed=16)
    sinks, slopes = _vectors(hq, 17)
    sinks, slopes = (sinks if use_sinks else None), (slopes if use_alibi else None)
    poison_allocator(b * sq * hq * d * 2)
    out, lse = run_or_skip(ptxfmha.attention, q, k, v, causal=causal, window_size=window, softcap=softcap,
                           sinks=sinks, alibi_slopes=slopes, return_lse=True)
    ref_o, ref_lse = attention_ref(q, k, v, causal=causal, window=window, softcap=softcap, sinks=sinks, alibi=slopes)
    check(f"prefill d{d} softcap={softcap:g} sinks={use_sinks} alibi={use_alibi}", "attn", out, ref_o, lse, ref_lse)


# ---- decode with features -----------------------------------------------------------------

DECODE_FEATURES = [
    dict(window_size=(256, 0)),
    dict(softcap=30.0),
    dict(sinks=True),
    dict(alibi=True),
    dict(window_size=(1000, 0), softcap=20.0, sinks=True, alibi=True),
]


@pytest.mark.parametrize("paged", [False, True], ids=["contig", "paged"])
@pytest.mark.parametrize("feat", DECODE_FEATURES, ids=lambda f: "_".join(sorted(f)))
def test_decode_features_vs_float64_reference(feat, paged):
    b, sq, hq, hkv, d, n, ps = 3, 2, 16, 4, 128, 3000, 64
    k, v = randn(b, n, hkv, d, seed=20), randn(b, n, hkv, d, seed=21)
    q = randn(b, sq, hq, d, seed=22)
    lens = torch.tensor([3000, 1234, 77], dtype=torch.int32, device="cuda")
    sinks, slopes = _vectors(hq, 23)
    kw = dict(window_size=feat.get("window_size", (-1, -1)), softcap=feat.get("softcap", 0.0),
              sinks=sinks if feat.get("sinks") else None, alibi_slopes=slopes if feat.get("alibi") else None)
    kc, vc, table = k, v, None
    if paged:
        blocks = n // ps + 1
        g = torch.Generator(device="cuda").manual_seed(24)
        table = torch.randperm(b * blocks, generator=g, device="cuda").view(b, blocks).to(torch.int32)
        kc, vc = randn(b * blocks, ps, hkv, d, seed=25), randn(b * blocks, ps, hkv, d, seed=26)
        for bi in range(b):
            for j0 in range(0, n, ps):
                m = min(ps, n - j0)
                kc[table[bi, j0 // ps], :m], vc[table[bi, j0 // ps], :m] = k[bi, j0:j0 + m], v[bi, j0:j0 + m]
    poison_allocator(b * sq * hq * d * 2)
    out, lse = run_or_skip(ptxfmha.attention_with_kvcache, q, kc, vc, cache_seqlens=lens, block_table=table,
                           causal=True, return_lse=True, **kw)
    ref_o, ref_lse = attention_ref(q, k, v, causal=True, window=kw["window_size"], softcap=kw["softcap"],
                                   sinks=kw["sinks"], alibi=kw["alibi_slopes"], len_k=lens)
    check(f"decode {'paged' if paged else 'contig'} {'+'.join(sorted(feat))}", "decode", out, ref_o, lse, ref_lse)


# ---- check_metadata (host checks; no feature kernel needed) ---------------------------------------

def test_check_metadata_accepts_valid_and_names_the_first_bad_entry():
    lq, lk = [5, 7, 9], [10, 0, 20]
    q, k = randn(sum(lq), 4, 64, seed=30), randn(sum(lk), 2, 64, seed=31)
    cu_q, cu_k = _cu(lq), _cu(lk)
    assert ptxfmha.check_metadata(q, k, k, cu_q, cu_k, 9, 20) is None
    bad = cu_q.clone()
    bad[2] = 3                                  # decreasing
    with pytest.raises(ArgumentError) as ei:
        ptxfmha.check_metadata(q, k, k, bad, cu_k, 9, 20)
    assert ei.value.status == Status.ERR_INVALID_METADATA and "cu_seqlens_q[2] = 3" in str(ei.value), ei.value
    with pytest.raises(ArgumentError) as ei:
        ptxfmha.check_metadata(q, k, k, cu_q, cu_k, 9, 20, seqused_k=torch.tensor([10, 1, 5], dtype=torch.int32,
                                                                                   device="cuda"))
    assert ei.value.status == Status.ERR_INVALID_METADATA and "seqused_k[1] = 1" in str(ei.value), ei.value


def test_check_kvcache_metadata_pages():
    kc = randn(8, 16, 2, 64, seed=32)
    q = randn(2, 1, 4, 64, seed=33)
    table = torch.tensor([[0, 1, 2], [3, 4, 9]], dtype=torch.int32, device="cuda")
    lens = torch.tensor([48, 32], dtype=torch.int32, device="cuda")
    assert ptxfmha.check_kvcache_metadata(q, kc, kc, lens, table) is None     # page 9 is not needed
    lens[1] = 40
    with pytest.raises(ArgumentError) as ei:
        ptxfmha.check_kvcache_metadata(q, kc, kc, lens, table)
    assert ei.value.status == Status.ERR_INVALID_PAGE_TABLE and "block_table[1][2] = 9" in str(ei.value), ei.value
    lens[1] = 49
    with pytest.raises(ArgumentError) as ei:
        ptxfmha.check_kvcache_metadata(q, kc, kc, lens, table)
    assert ei.value.status == Status.ERR_INVALID_METADATA and "seqlens_k[1] = 49" in str(ei.value), ei.value
    q16 = randn(2, 16, 4, 64, seed=34)
    with pytest.raises(ArgumentError) as ei:                                # the attn-side check for > 8 tokens
        ptxfmha.check_kvcache_metadata(q16, kc, kc, lens, table)
    assert ei.value.function == "ptxfmha_check_metadata", ei.value


def test_cuda_graph_capture_of_decode_with_features():
    """Decode with a window and sinks captured into a CUDA graph; replays read the new
    cache_seqlens, sinks and cache as they are then (equal to eager calls)."""
    b, hq, hkv, d, n = 2, 16, 2, 128, 2048
    kc, vc = randn(b, n, hkv, d, seed=40), randn(b, n, hkv, d, seed=41)
    q = randn(b, 1, hq, d, seed=42)
    lens = torch.tensor([2048, 999], dtype=torch.int32, device="cuda")
    sinks = _vectors(hq, 43)[0]

    def run():
        return ptxfmha.attention_with_kvcache(q, kc, vc, cache_seqlens=lens, causal=True, window_size=(512, 0),
                                              sinks=sinks)

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        run_or_skip(run)
        run()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = run()
    for seed in (44, 45):
        q.copy_(randn(b, 1, hq, d, seed=seed))
        kc.copy_(randn(b, n, hkv, d, seed=seed + 1))
        lens.copy_(torch.tensor([1500 + seed, 7], dtype=torch.int32, device="cuda"))
        sinks.copy_(_vectors(hq, seed)[0] * 0.5)
        graph.replay()
        torch.cuda.synchronize()
        want = run()
        assert torch.equal(want, out), f"replay differs from eager by {(want - out).abs().max().item()}"
