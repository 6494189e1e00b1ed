"""The torch layer on the CPU (needs PyTorch; no GPU): the custom ops with stand-in kernels
(cpu_kernels.py: float64 reference math registered for "cpu"), so that everything the package
does in Python is exercised - argument handling and routing to the right op with the right
arguments, autograd (the LSE asked for when a gradient is needed, saved tensors, the
backward's arguments, GQA shapes, refusals naming the missing backward features), and
torch.compile(fullgraph=True) tracing forward and backward through the fake implementations.
The kernels' numerics are the GPU tests' business (test_gpu_*.py)."""

import pytest

from conftest import have_module

pytestmark = pytest.mark.skipif(not have_module("torch"), reason="torch not installed")

if have_module("torch"):
    import torch

    import ptxfmha
    import cpu_kernels
    from reference import attention_bwd_ref, attention_grads_ref, attention_ref, gather_pages, varlen_ref


@pytest.fixture()
def calls(monkeypatch):
    return cpu_kernels.install(monkeypatch)


def bf16(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g).to(torch.bfloat16)


def rel(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


def sdpa_grads(q, k, v, dout, causal, scale):
    """float64 autograd of SDPA (math backend, explicit bottom-right mask, GQA by repetition)."""
    qd, kd, vd = (t.detach().double().requires_grad_() for t in (q, k, v))
    hq, hkv = q.shape[2], k.shape[2]
    sq, sk = q.shape[1], k.shape[1]
    mask = None
    if causal:
        mask = torch.arange(sk).view(1, sk) <= torch.arange(sq).view(sq, 1) + sk - sq
    with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
        o = torch.nn.functional.scaled_dot_product_attention(
            qd.transpose(1, 2), kd.transpose(1, 2).repeat_interleave(hq // hkv, 1),
            vd.transpose(1, 2).repeat_interleave(hq // hkv, 1), attn_mask=mask, scale=scale).transpose(1, 2)
    o.backward(dout.double())
    return o.detach(), qd.grad, kd.grad, vd.grad


# ---- the references themselves ----------------------------------------------------------------

@pytest.mark.parametrize("causal,sq,sk", [(True, 37, 50), (False, 20, 33), (True, 40, 24)])
def test_backward_reference_matches_sdpa_autograd(causal, sq, sk):
    """attention_bwd_ref (the stand-in's backward and the GPU tests' formula) against float64
    autograd of SDPA; sq > sk causal has rows that see no key."""
    q, k, v, do = bf16(2, sq, 8, 32, seed=1), bf16(2, sk, 2, 32, seed=2), bf16(2, sk, 2, 32, seed=3), bf16(2, sq, 8, 32, seed=4)
    o, dq, dk, dv = sdpa_grads(q, k, v, do, causal, 0.2)
    ro, _ = attention_ref(q, k, v, causal=causal, scale=0.2)
    rq, rk, rv = attention_bwd_ref(do, q, k, v, causal=causal, scale=0.2)
    live = torch.isfinite(attention_ref(q, k, v, causal=causal, scale=0.2)[1]).transpose(1, 2).unsqueeze(-1)
    assert torch.allclose(torch.where(live, o, 0), ro, atol=1e-12)
    for a, b in ((rq, torch.where(live, dq, 0)), (rk, dk), (rv, dv)):
        assert torch.allclose(a, b, atol=1e-10), (a - b).abs().max()


def test_feature_reference_matches_explicit_formulas():
    """attention_ref's window / softcap / ALiBi / sinks against a direct loop over one row."""
    q, k, v = bf16(1, 6, 2, 8, seed=5), bf16(1, 9, 1, 8, seed=6), bf16(1, 9, 1, 8, seed=7)
    sinks, alibi = torch.tensor([0.5, -1.0]), torch.tensor([0.25, 0.125])
    o, lse = attention_ref(q, k, v, causal=True, scale=0.3, window=(3, -1), softcap=2.0, sinks=sinks, alibi=alibi)
    for h in range(2):
        for i in range(6):
            dgl = i + 9 - 6
            js = [j for j in range(9) if dgl - 3 <= j <= dgl]
            s = [2.0 * torch.tanh(0.3 * (q[0, i, h].double() @ k[0, j, 0].double()) / 2.0) - alibi[h] * abs(dgl - j)
                 for j in js]
            s = torch.stack([torch.as_tensor(x, dtype=torch.float64) for x in s])
            den = torch.exp(s).sum() + torch.exp(sinks[h].double())
            want = sum(torch.exp(s[n]) * v[0, j, 0].double() for n, j in enumerate(js)) / den
            assert torch.allclose(o[0, i, h], want, atol=1e-12)
            assert torch.allclose(lse[0, h, i], torch.log(den), atol=1e-12)


# ---- forward routing ---------------------------------------------------------------------------

def test_attention_forward_and_features_reach_the_op(calls):
    q, k, v = bf16(2, 30, 4, 32, seed=1), bf16(2, 40, 2, 32, seed=2), bf16(2, 40, 2, 32, seed=3)
    sinks, alibi = torch.randn(4).bfloat16(), torch.rand(4)
    with torch.no_grad():
        out, lse = ptxfmha.flash_attn_func(q, k, v, causal=True, window_size=(8, 0), softcap=5.0, alibi_slopes=alibi,
                                           s_aux=sinks), None
        out2, lse2 = ptxfmha.attention(q, k, v, causal=True, window_size=(8, 0), softcap=5.0, alibi_slopes=alibi,
                                       sinks=sinks, return_lse=True)
    assert torch.equal(out, out2)
    (_, c), (_, c2) = calls
    assert c["window"] == (8, 0) and c["softcap"] == 5.0 and c["sinks"] and c["alibi"] and not c["return_lse"]
    assert c2["return_lse"] and abs(c["scale"] - 32 ** -0.5) < 1e-12
    ref_o, ref_lse = attention_ref(q, k, v, causal=True, window=(8, 0), softcap=5.0, alibi=alibi,
                                   sinks=sinks.float())
    assert rel(out2, ref_o) < 1e-2 and torch.allclose(lse2.double(), ref_lse, atol=1e-5)
    with pytest.raises(ValueError, match="same argument"):
        ptxfmha.flash_attn_func(q, k, v, sinks=sinks, s_aux=sinks)


def test_varlen_packed_and_paged(calls):
    cu_q = torch.tensor([0, 5, 5, 17], dtype=torch.int32)
    cu_k = torch.tensor([0, 9, 12, 40], dtype=torch.int32)
    q, k, v = bf16(17, 4, 32, seed=1), bf16(40, 2, 32, seed=2), bf16(40, 2, 32, seed=3)
    with torch.no_grad():
        out, lse = ptxfmha.flash_attn_varlen_func(q, k, v, cu_q, cu_k, 12, 28, causal=True, return_lse=True)
    assert out.shape == (17, 4, 32) and lse.shape == (4, 17)
    ro, rl = varlen_ref(q, k, v, cu_q, cu_k, causal=True)
    assert rel(out, ro) < 1e-2 and torch.allclose(lse.double(), rl, atol=1e-5)
    assert calls[-1][1]["varlen_q"] and calls[-1][1]["varlen_k"]
    # the same keys in a shuffled page pool; FlashAttention's paged form passes the lengths as cu_seqlens_k
    ps, blocks = 16, 2
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(3))[:3 * blocks].view(3, blocks).int()
    kc, vc = bf16(9, ps, 2, 32, seed=8), bf16(9, ps, 2, 32, seed=9)
    ck = cu_k.tolist()
    for b in range(3):
        for j in range(ck[b + 1] - ck[b]):
            kc[perm[b, j // ps], j % ps] = k[ck[b] + j]
            vc[perm[b, j // ps], j % ps] = v[ck[b] + j]
    with torch.no_grad():
        paged = ptxfmha.flash_attn_varlen_func(q, kc, vc, cu_q, cu_k, 12, 28, causal=True, block_table=perm)
    c = calls[-1][1]
    assert c["paged"] and c["seqused_k"] and not c["varlen_k"] and c["varlen_q"]
    assert torch.equal(paged, out)
    with pytest.raises(ValueError, match="once"):
        ptxfmha.flash_attn_varlen_func(q, kc, vc, cu_q, cu_k, 12, 28, block_table=perm,
                                       seqused_k=torch.tensor([9, 3, 28], dtype=torch.int32))
    with pytest.raises(ValueError, match="return_attn_probs"):
        ptxfmha.flash_attn_varlen_func(q, k, v, cu_q, cu_k, 12, 28, return_attn_probs=True)


def test_varlen_with_no_query_rows_has_empty_outputs():
    q = torch.empty(0, 4, 32, dtype=torch.bfloat16)
    k = bf16(10, 2, 32)
    cu_q, cu_k = torch.zeros(3, dtype=torch.int32), torch.tensor([0, 4, 10], dtype=torch.int32)
    with pytest.MonkeyPatch.context() as mp:
        cpu_kernels.install(mp)
        out, lse = ptxfmha.attention_varlen(q, k, k, cu_q, cu_k, 0, 6, return_lse=True)
    assert out.shape == (0, 4, 32) and lse.shape == (4, 0)  # (the real op returns before the library: GPU test)


@pytest.mark.parametrize("sq,paged,seqlens", [(1, False, True), (8, True, True), (9, True, True), (20, False, True),
                                               (20, False, False)])
def test_kvcache_routing(calls, sq, paged, seqlens):
    """1..8 new tokens -> ptxfmha_decode_attn; more -> ptxfmha_attn against the same cache
    (paged or not, cache_seqlens as seqused_k); same numbers either way."""
    b, n, ps = 2, 70, 16
    k, v = bf16(b, n, 2, 32, seed=1), bf16(b, n, 2, 32, seed=2)
    q = bf16(b, sq, 4, 32, seed=3)
    lens = torch.tensor([70, 41], dtype=torch.int32) if seqlens else None
    table = None
    kc, vc = k, v
    if paged:
        blocks = (n + ps - 1) // ps
        table = torch.randperm(b * blocks + 2, generator=torch.Generator().manual_seed(4))[:b * blocks].view(b, blocks).int()
        kc, vc = bf16(b * blocks + 2, ps, 2, 32, seed=5), bf16(b * blocks + 2, ps, 2, 32, seed=6)
        for bi in range(b):
            for j in range(n):
                kc[table[bi, j // ps], j % ps], vc[table[bi, j // ps], j % ps] = k[bi, j], v[bi, j]
        assert torch.equal(gather_pages(kc, table, n), k)
    with torch.no_grad():
        out = ptxfmha.flash_attn_with_kvcache(q, kc, vc, cache_seqlens=lens, block_table=table, causal=True,
                                              window_size=(30, 0), softcap=0.0)
    op, c = calls[-1]
    assert op == ("decode_attn" if sq <= 8 else "attn")
    assert c["window"] == (30, 0) and c["paged"] == paged
    assert c["seqlens" if op == "decode_attn" else "seqused_k"] == seqlens
    ref_o, _ = attention_ref(q, k, v, causal=True, window=(30, 0), len_k=lens)
    assert rel(out, ref_o) < 1e-2


def test_kvcache_refusals(calls):
    q, kc = bf16(1, 1, 2, 32), bf16(1, 10, 2, 32)
    for kw in ({"k": kc}, {"rotary_cos": kc}, {"cache_leftpad": kc}):
        with pytest.raises(ValueError, match="not supported"):
            ptxfmha.attention_with_kvcache(q, kc, kc, **kw)
    with pytest.raises(ValueError, match="num_splits"):
        ptxfmha.attention_with_kvcache(q, kc, kc, num_splits=1.5)


# ---- autograd ----------------------------------------------------------------------------------

@pytest.mark.parametrize("causal,sq,sk,hq,hkv", [(True, 37, 50, 8, 2), (False, 24, 24, 4, 4), (True, 64, 64, 6, 1)])
def test_backward_matches_float64_sdpa(calls, causal, sq, sk, hq, hkv):
    q, k, v = (bf16(2, s, h, 32, seed=i).requires_grad_() for i, (s, h) in enumerate([(sq, hq), (sk, hkv), (sk, hkv)]))
    dout = bf16(2, sq, hq, 32, seed=9)
    out = ptxfmha.attention(q, k, v, causal=causal, softmax_scale=0.15)
    out.backward(dout)
    fwd_call, bwd_call = calls
    assert fwd_call[1]["return_lse"], "the LSE must be asked for when a gradient is needed"
    assert bwd_call[1] == dict(causal=causal, scale=0.15, deterministic=False, q_shape=(2, sq, hq, 32),
                               k_shape=(2, sk, hkv, 32), dout_contiguous=True, window=(-1, 0 if causal else -1),
                               softcap=0.0, sinks=False, alibi=False)
    _, dq, dk, dv = sdpa_grads(q, k, v, dout, causal, 0.15)
    assert (k.grad.shape, v.grad.shape) == (k.shape, v.shape)
    for got, want in ((q.grad, dq), (k.grad, dk), (v.grad, dv)):
        assert rel(got, want) < 1e-2


def test_deterministic_flag_and_expanded_gradients(calls):
    q = bf16(1, 16, 2, 32, seed=1).requires_grad_()
    out = ptxfmha.attention(q, q, q, causal=True, deterministic=True)
    out.float().sum().backward()        # grad_out is an expanded view (strides 0)
    assert calls[-1][0] == "bwd" and calls[-1][1]["deterministic"] and calls[-1][1]["dout_contiguous"]
    assert q.grad is not None and torch.isfinite(q.grad.float()).all()


def test_no_lse_without_grad_and_lse_is_not_differentiable(calls):
    q = bf16(1, 16, 2, 32, seed=1).requires_grad_()
    with torch.no_grad():
        ptxfmha.attention(q, q, q)
    assert not calls[-1][1]["return_lse"]
    ptxfmha.attention(q.detach(), q.detach(), q.detach())
    assert not calls[-1][1]["return_lse"]
    out, lse = ptxfmha.attention(q, q, q, return_lse=True)
    assert out.requires_grad and not lse.requires_grad


# (attention() keywords, the window ptxfmha::bwd gets: causal = right 0, a bound covering the sequence dropped)
FEATURE_CASES = [
    (dict(causal=True, window_size=(5, 0)), (5, 0)),
    (dict(window_size=(4, 3)), (4, 3)),
    (dict(window_size=(40, 2)), (-1, 2)),
    (dict(softcap=3.0), (-1, -1)),
    (dict(causal=True, alibi=True), (-1, 0)),
    (dict(sinks=True), (-1, -1)),
    (dict(causal=True, window_size=(6, -1), softcap=2.5, alibi=True, sinks=True), (6, 0)),
]


@pytest.mark.parametrize("kw,window", FEATURE_CASES, ids=lambda x: str(x))
def test_backward_of_features_matches_float64_autograd(calls, kw, window):
    """window / softcap / ALiBi / sinks reach ptxfmha::bwd as the forward read them, and the
    gradients (dq, dk, dv, and sinks' from d_sink) equal float64 autograd of attention_ref
    with the caller's arguments (GQA 4:2, sq < sk: bottom-right diagonal)."""
    kw = dict(kw)
    sq, sk = 12, 17
    q, k, v = (bf16(2, s, h, 32, seed=i).requires_grad_() for i, (s, h) in enumerate([(sq, 4), (sk, 2), (sk, 2)]))
    dout = bf16(2, sq, 4, 32, seed=9)
    sinks = torch.tensor([0.5, -1.0, 2.0, 0.0], requires_grad=True) if kw.pop("sinks", False) else None
    alibi = torch.tensor([0.3, 0.1, 0.05, 0.2]) if kw.pop("alibi", False) else None
    ptxfmha.attention(q, k, v, softmax_scale=0.2, sinks=sinks, alibi_slopes=alibi, **kw).backward(dout)
    op, args = calls[-1]
    assert op == "bwd" and args["window"] == window and args["causal"] == (window[1] == 0)
    assert (args["softcap"], args["sinks"], args["alibi"]) == (kw.get("softcap", 0.0), sinks is not None,
                                                               alibi is not None)
    want = attention_grads_ref(dout, q, k, v, causal=kw.get("causal", False), scale=0.2,
                               window=kw.get("window_size", (-1, -1)), softcap=kw.get("softcap", 0.0), sinks=sinks,
                               alibi=alibi)
    for got, w in zip((q.grad, k.grad, v.grad), want):
        assert rel(got, w) < 1e-2
    if sinks is not None:
        assert sinks.grad.dtype == torch.float32 and rel(sinks.grad, want[3]) < 1e-5


def test_sinks_without_grad_get_none_and_a_frozen_q_still_trains_k(calls):
    q, k = bf16(1, 16, 2, 32, seed=1), bf16(1, 16, 2, 32, seed=2).requires_grad_()
    sinks = torch.zeros(2)
    ptxfmha.attention(q, k, k, sinks=sinks, softcap=5.0).float().sum().backward()
    assert sinks.grad is None and k.grad is not None and torch.isfinite(k.grad.float()).all()
    assert calls[-1][1]["sinks"] and calls[-1][1]["softcap"] == 5.0


def test_backward_of_paged_names_it(calls):
    table = torch.tensor([[0, 1]], dtype=torch.int32)
    kc = bf16(2, 16, 2, 32, seed=3).requires_grad_()
    out = ptxfmha.attention_with_kvcache(bf16(1, 20, 2, 32, seed=4).requires_grad_(), kc, kc,
                                         cache_seqlens=torch.tensor([30], dtype=torch.int32), block_table=table,
                                         causal=True)
    with pytest.raises(NotImplementedError, match=r"ptxfmha_bwd.*paged K/V \(block_table\) yet"):
        out.float().sum().backward()


VARLEN_CASES = [
    ([5, 0, 9, 1], [5, 0, 9, 1], 4, 2, dict(causal=True), None),
    ([7, 12], [10, 3], 2, 2, dict(window_size=(4, 2), softcap=3.0, alibi=True, sinks=True), None),
    ([6, 11], [9, 14], 4, 1, dict(causal=True, sinks=True), [4, 14]),
]


@pytest.mark.parametrize("lens_q,lens_k,hq,hkv,kw,used", VARLEN_CASES, ids=["empty-seq", "features", "seqused_k"])
def test_varlen_backward_matches_float64_autograd(calls, lens_q, lens_k, hq, hkv, kw, used):
    """Packed q / k / v through attention_varlen and backward (ptxfmha::bwd with the packed
    layouts): gradients against float64 autograd of varlen_ref (the forward's per-sequence
    semantics, independent of the stand-in backward's formula); the bwd call gets the packed
    LSE [hq, total_q], max_seqlen and the variable-length flags."""
    kw = dict(kw)
    cu_q = torch.tensor([0] + torch.tensor(lens_q).cumsum(0).tolist(), dtype=torch.int32)
    cu_k = torch.tensor([0] + torch.tensor(lens_k).cumsum(0).tolist(), dtype=torch.int32)
    q = bf16(sum(lens_q) + 2, hq, 32, seed=1).requires_grad_()  # 2 rows of no sequence
    k, v = (bf16(sum(lens_k), hkv, 32, seed=s).requires_grad_() for s in (2, 3))
    sinks = torch.linspace(-1.0, 2.0, hq).requires_grad_() if kw.pop("sinks", False) else None
    alibi = torch.linspace(0.05, 0.2, hq) if kw.pop("alibi", False) else None
    seqused = torch.tensor(used, dtype=torch.int32) if used is not None else None
    out = ptxfmha.flash_attn_varlen_func(q, k, v, cu_q, cu_k, max(lens_q), max(lens_k), softmax_scale=0.2,
                                         seqused_k=seqused, sinks=sinks, alibi_slopes=alibi, **kw)
    dout = bf16(*q.shape, seed=4)
    out.backward(dout)
    xs = [t.detach().double().requires_grad_() for t in (q, k, v)]
    s64 = None if sinks is None else sinks.detach().double().requires_grad_()
    o, _ = varlen_ref(*xs, cu_q, cu_k, seqused_k=seqused, causal=kw.get("causal", False), scale=0.2,
                      window=kw.get("window_size", (-1, -1)), softcap=kw.get("softcap", 0.0), sinks=s64, alibi=alibi)
    want = torch.autograd.grad(o, xs + ([s64] if s64 is not None else []), dout.double())
    for got, w in zip((q.grad, k.grad, v.grad), want):
        assert rel(got, w) < 1e-2
    assert torch.count_nonzero(q.grad[-2:]) == 0
    if sinks is not None:
        assert rel(sinks.grad, want[3]) < 1e-5
    bwd = [c for op, c in calls if op == "bwd"]
    assert len(bwd) == 1 and bwd[0]["varlen_q"] and bwd[0]["varlen_k"]
    assert bwd[0]["lse_shape"] == (hq, q.shape[0]) and bwd[0]["max_seqlen"] == (max(lens_q), max(lens_k))
    assert bwd[0]["seqused_k"] == (used is not None) and bwd[0]["causal"] == kw.get("causal", False)


def test_varlen_backward_under_compile_equals_eager(calls):
    torch._dynamo.reset()
    cu = torch.tensor([0, 7, 7, 20], dtype=torch.int32)

    def step(q, k, v):
        return (ptxfmha.attention_varlen(q, k, v, cu, cu, 13, 13, causal=True, softcap=2.0).float() ** 2).sum()

    def grads(fn):
        q, k, v = (bf16(20, h, 32, seed=i).requires_grad_() for i, h in enumerate((4, 2, 2)))
        fn(q, k, v).backward()
        return q.grad, k.grad, v.grad

    for e, c in zip(grads(step), grads(torch.compile(step, fullgraph=True, backend="aot_eager"))):
        assert torch.equal(e, c)


def test_a_window_wider_than_the_sequence_is_plain_attention_for_backward(calls):
    q = bf16(1, 16, 2, 32, seed=1).requires_grad_()
    ptxfmha.attention(q, q, q, causal=True, window_size=(15, 0)).float().sum().backward()
    assert calls[-1][0] == "bwd" and calls[-1][1]["causal"]
    q.grad = None
    ptxfmha.attention(q, q, q, window_size=(100, 15)).float().sum().backward()
    assert calls[-1][0] == "bwd" and not calls[-1][1]["causal"]


def test_op_without_lse_cannot_backward(calls):
    q = bf16(1, 16, 2, 32, seed=1).requires_grad_()
    out, _ = torch.ops.ptxfmha.attn(q, q, q, None, None, None, None, 0, 0, True, 0.1, -1, -1, 0.0, None, None,
                                    False, False)
    with pytest.raises(RuntimeError, match="return_lse=False"):
        out.float().sum().backward()


def test_decode_has_no_backward(calls):
    q = bf16(1, 1, 2, 32).requires_grad_()
    out = ptxfmha.attention_with_kvcache(q, bf16(1, 10, 2, 32), bf16(1, 10, 2, 32))
    with pytest.raises(NotImplementedError, match="inference"):
        out.float().sum().backward()


# ---- torch.compile -------------------------------------------------------------------------

def test_compile_fullgraph_forward_and_backward(calls):
    """AOT autograd traces ptxfmha::attn and ptxfmha::bwd through their fakes; the compiled
    step gives the eager step's gradients exactly (same stand-in kernels)."""
    torch._dynamo.reset()

    def step(q, k, v, dout):
        out = ptxfmha.attention(q, k, v, causal=True, deterministic=True)
        return (out.float() * dout).sum()

    def grads(fn, seed):
        q, k, v = (bf16(2, 33, h, 32, seed=seed + i).requires_grad_() for i, h in enumerate((4, 2, 2)))
        fn(q, k, v, bf16(2, 33, 4, 32, seed=seed + 5).float()).backward()
        return q.grad, k.grad, v.grad

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    for seed in (10, 20):
        for e, c in zip(grads(step, seed), grads(compiled, seed)):
            assert torch.equal(e, c)
    assert [op for op, _ in calls].count("bwd") == 4


def test_compile_varlen_and_kvcache_forward(calls):
    torch._dynamo.reset()
    cu = torch.tensor([0, 7, 20], dtype=torch.int32)

    def f(q, kc, lens):
        a = ptxfmha.attention_varlen(q, q, q, cu, cu, 13, 13, causal=True, window_size=(5, 0))
        b = ptxfmha.attention_with_kvcache(q[:2].unsqueeze(0).expand(2, 2, 2, 32).contiguous(), kc, kc,
                                           cache_seqlens=lens, causal=True, softcap=3.0)
        return a.float().sum() + b.float().sum()

    q, kc, lens = bf16(20, 2, 32, seed=1), bf16(2, 30, 1, 32, seed=2), torch.tensor([30, 12], dtype=torch.int32)
    with torch.no_grad():
        want = f(q, kc, lens)
        got = torch.compile(f, fullgraph=True, backend="aot_eager")(q, kc, lens)
    assert torch.equal(want, got)


# ---- opcheck: schema, fake vs real (shapes, strides, dtypes), autograd registration -----------

def _opcheck(op, args):
    """torch.library.opcheck, plus the outputs' strides of the fake against the real ones
    (inductor asserts them; opcheck compares shapes and dtypes only)."""
    torch.library.opcheck(op, args, test_utils=("test_schema", "test_autograd_registration", "test_faketensor",
                                                "test_aot_dispatch_dynamic"))
    from torch._subclasses.fake_tensor import FakeTensorMode

    real = op(*args)
    with FakeTensorMode() as mode:
        fake = op(*[mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in args])
    for r, f in zip(real, fake):
        assert (tuple(r.shape), r.stride(), r.dtype) == (tuple(f.shape), f.stride(), f.dtype), (op, r.stride(), f.stride())


def test_opcheck_attn(calls):
    q, k, v = bf16(2, 20, 4, 32, seed=1).requires_grad_(), bf16(2, 30, 2, 32, seed=2), bf16(2, 30, 2, 32, seed=3)
    _opcheck(torch.ops.ptxfmha.attn.default,
             (q, k, v, None, None, None, None, 0, 0, True, 0.2, -1, -1, 0.0, None, None, True, False))
    cu_q, cu_k = torch.tensor([0, 5, 12], dtype=torch.int32), torch.tensor([0, 9, 30], dtype=torch.int32)
    _opcheck(torch.ops.ptxfmha.attn.default,
             (bf16(12, 4, 32), bf16(30, 2, 32), bf16(30, 2, 32), cu_q, cu_k, None, None, 7, 21, True, 0.2, 3, 0,
              5.0, torch.zeros(4), torch.ones(4), True, False))
    table = torch.tensor([[0, 2], [1, 3]], dtype=torch.int32)
    _opcheck(torch.ops.ptxfmha.attn.default,
             (bf16(2, 20, 4, 32), bf16(4, 16, 2, 32), bf16(4, 16, 2, 32), None, None,
              torch.tensor([20, 31], dtype=torch.int32), table, 0, 0, True, 0.2, -1, -1, 0.0, None, None, False,
              False))


def test_opcheck_decode_and_bwd(calls):
    q = bf16(2, 3, 4, 32)
    _opcheck(torch.ops.ptxfmha.decode_attn.default,
             (q, bf16(2, 40, 2, 32), bf16(2, 40, 2, 32), torch.tensor([40, 17], dtype=torch.int32), None, True, 0.2,
              8, 0, 0.0, torch.zeros(4), None, 0, True, None, None))
    q, k, v = bf16(2, 20, 4, 32, seed=1), bf16(2, 30, 2, 32, seed=2), bf16(2, 30, 2, 32, seed=3)
    out, lse = torch.ops.ptxfmha.attn(q, k, v, None, None, None, None, 0, 0, True, 0.2, -1, -1, 0.0, None, None,
                                      True, False)
    _opcheck(torch.ops.ptxfmha.bwd.default, (bf16(2, 20, 4, 32, seed=4), q, k, v, out, lse, True, 0.2, False))
    sinks, alibi = torch.tensor([0.5, -1.0, 2.0, 0.0]), torch.tensor([0.3, 0.1, 0.05, 0.2])
    out, lse = torch.ops.ptxfmha.attn(q, k, v, None, None, None, None, 0, 0, False, 0.2, 7, 2, 4.0, sinks, alibi,
                                      True, False)
    _opcheck(torch.ops.ptxfmha.bwd.default,
             (bf16(2, 20, 4, 32, seed=4), q, k, v, out, lse, False, 0.2, False, 7, 2, 4.0, sinks, alibi))
    cu_q, cu_k = torch.tensor([0, 5, 5, 12], dtype=torch.int32), torch.tensor([0, 9, 10, 30], dtype=torch.int32)
    q, k, v = bf16(12, 4, 32, seed=1), bf16(30, 2, 32, seed=2), bf16(30, 2, 32, seed=3)
    out, lse = torch.ops.ptxfmha.attn(q, k, v, cu_q, cu_k, None, None, 7, 20, True, 0.2, -1, -1, 0.0, sinks, None,
                                      True, False)
    assert tuple(lse.shape) == (4, 12)
    _opcheck(torch.ops.ptxfmha.bwd.default,
             (bf16(12, 4, 32, seed=4), q, k, v, out, lse, True, 0.2, False, -1, 0, 0.0, sinks, None, cu_q, cu_k,
              torch.tensor([9, 1, 15], dtype=torch.int32), 7, 20))
