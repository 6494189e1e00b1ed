"""GPU tests of the torch entry points (skipped without PyTorch or a ptx-fmha GPU).

Every output is checked against float64 SDPA on the same bf16 inputs with the README's bounds
(gpu_util.check), on top of exact comparisons where two runs must agree bit for bit (strided
vs contiguous inputs, compiled vs eager, graph replay vs eager, side streams vs default)."""

import os
import subprocess
import sys

import pytest

from gpu_util import check, needs_gpu, poison_allocator, randn, reference, run_or_skip, torch

import ptxfmha
from ptxfmha import ArgumentError, DeviceError

pytestmark = needs_gpu

# b, sq, sk, hq, hkv, d, causal
FWD_CASES = [
    (2, 128, 128, 8, 8, 64, False),
    (2, 257, 257, 16, 4, 64, True),
    (1, 1000, 1000, 8, 2, 128, True),
    (2, 77, 513, 8, 8, 128, True),     # fewer queries than keys: bottom-right diagonal
    (1, 300, 100, 4, 1, 256, True),    # more queries than keys: 200 rows see no key
    (3, 64, 2048, 16, 2, 256, False),
    (1, 1, 4096, 8, 8, 64, True),
    (2, 1024, 1024, 8, 1, 64, False),
]


def _id(c):
    return "b{}_sq{}_sk{}_h{}x{}_d{}_{}".format(*c[:6], "causal" if c[6] else "full")


@pytest.mark.parametrize("case", FWD_CASES, ids=_id)
def test_attention_vs_sdpa_float64(case):
    b, sq, sk, hq, hkv, d, causal = case
    q, k, v = randn(b, sq, hq, d, seed=1), randn(b, sk, hkv, d, seed=2), randn(b, sk, hkv, d, seed=3)
    scale = d ** -0.5
    poison_allocator(b * sq * hq * d * 2)
    out, lse = ptxfmha.attention(q, k, v, causal=causal, return_lse=True)
    ref_o, ref_lse = reference(q, k, v, causal, scale)
    check("attention " + _id(case), "fwd", out, ref_o, lse, ref_lse)
    again = ptxfmha.attention(q, k, v, causal=causal)
    assert torch.equal(again, out), "two launches differ"


def test_attention_explicit_scale_and_no_lse():
    q, k, v = randn(2, 200, 8, 128, seed=4), randn(2, 300, 4, 128, seed=5), randn(2, 300, 4, 128, seed=6)
    out = ptxfmha.attention(q, k, v, causal=True, softmax_scale=0.05)
    assert isinstance(out, torch.Tensor) and out.is_contiguous()
    ref_o, _ = reference(q, k, v, True, 0.05)
    check("attention scale=0.05", "fwd", out, ref_o)


def _layouts(b, s, h, d, seed):
    base = randn(b, s, h, d, seed=seed)
    bhsd = base.transpose(1, 2).contiguous().transpose(1, 2)          # [b, h, s, d] storage
    padded = torch.zeros(b, s, h, d + 64, dtype=base.dtype, device=base.device)
    padded[..., :d] = base
    return {"bshd": base, "bhsd": bhsd, "padded": padded[..., :d]}


@pytest.mark.parametrize("layout", ["bhsd", "padded", "packed"])
def test_noncontiguous_inputs(layout):
    b, s, hq, hkv, d = 2, 333, 8, 2, 128
    if layout == "packed":
        qkv = randn(b, s, hq + 2 * hkv, d, seed=7)                     # one fused projection
        q, k, v = qkv.split([hq, hkv, hkv], dim=2)
    else:
        q = _layouts(b, s, hq, d, 8)[layout]
        k = _layouts(b, s, hkv, d, 9)[layout]
        v = _layouts(b, s, hkv, d, 10)[layout]
    assert not (q.is_contiguous() and k.is_contiguous())
    out, lse = ptxfmha.attention(q, k, v, causal=True, return_lse=True)
    dense, dense_lse = ptxfmha.attention(q.contiguous(), k.contiguous(), v.contiguous(), causal=True,
                                         return_lse=True)
    assert torch.equal(out, dense) and torch.equal(lse, dense_lse), "strided and contiguous inputs differ"
    ref_o, ref_lse = reference(q, k, v, True, d ** -0.5)
    check(f"attention layout={layout}", "fwd", out, ref_o, lse, ref_lse)


def test_flash_attn_func_signature():
    q, k, v = randn(1, 64, 4, 64, seed=11), randn(1, 64, 4, 64, seed=12), randn(1, 64, 4, 64, seed=13)
    a = ptxfmha.flash_attn_func(q, k, v, 0.0, None, True)
    assert torch.equal(a, ptxfmha.attention(q, k, v, causal=True))


# ---- KV cache ---------------------------------------------------------------------------------

# b, sq, hq, hkv, d, cache_len, page_size (None = contiguous), causal, ragged
DEC_CASES = [
    (4, 1, 32, 8, 128, 4096, None, True, True),
    (3, 4, 16, 2, 64, 1000, 64, True, True),
    (2, 8, 8, 8, 256, 700, 16, False, True),
    (2, 1, 16, 4, 128, 257, None, True, False),
    (2, 3, 4, 4, 64, 5000, 256, True, True),
    (1, 2, 8, 1, 128, 40000, None, True, False),
]


def _dec_id(c):
    b, sq, hq, hkv, d, n, ps, causal, ragged = c
    return f"b{b}_sq{sq}_h{hq}x{hkv}_d{d}_kv{n}_{'paged' + str(ps) if ps else 'contig'}_{'causal' if causal else 'full'}" \
           f"{'_ragged' if ragged else ''}"


def _make_cache(b, n, hkv, d, page_size, seed):
    """Keys/values of every sequence [b, n, hkv, d], and the cache holding them: the same tensor
    (contiguous) or pages in a shuffled pool with a block table."""
    k, v = randn(b, n, hkv, d, seed=seed), randn(b, n, hkv, d, seed=seed + 1)
    if page_size is None:
        return k, v, k, v, None
    blocks = (n + page_size - 1) // page_size
    pages = b * blocks + 3
    g = torch.Generator(device="cuda")
    g.manual_seed(seed)
    perm = torch.randperm(pages, generator=g, device="cuda")[: b * blocks].view(b, blocks)
    kc = randn(pages, page_size, hkv, d, seed=seed + 2)
    vc = randn(pages, page_size, hkv, d, seed=seed + 3)
    for bi in range(b):
        for blk in range(blocks):
            lo, hi = blk * page_size, min(n, (blk + 1) * page_size)
            kc[perm[bi, blk], : hi - lo] = k[bi, lo:hi]
            vc[perm[bi, blk], : hi - lo] = v[bi, lo:hi]
    return k, v, kc, vc, perm.to(torch.int32)


@pytest.mark.parametrize("case", DEC_CASES, ids=_dec_id)
def test_attention_with_kvcache_vs_sdpa_float64(case):
    b, sq, hq, hkv, d, n, page_size, causal, ragged = case
    k, v, kc, vc, table = _make_cache(b, n, hkv, d, page_size, seed=20)
    q = randn(b, sq, hq, d, seed=30)
    lens = None
    if ragged:
        g = torch.Generator(device="cuda")
        g.manual_seed(40)
        lens = torch.randint(1, n + 1, (b,), generator=g, device="cuda", dtype=torch.int32)
        lens[0] = n
    poison_allocator(b * sq * hq * d * 2)
    out, lse = ptxfmha.attention_with_kvcache(q, kc, vc, cache_seqlens=lens, block_table=table, causal=causal,
                                              return_lse=True)
    ref_o, ref_lse = reference(q, k, v, causal, d ** -0.5, seqlens=lens)
    check("kvcache " + _dec_id(case), "decode", out, ref_o, lse, ref_lse)


def test_kvcache_int_seqlens_and_num_splits():
    k, v, kc, vc, _ = _make_cache(2, 3000, 4, 128, None, seed=50)
    q = randn(2, 1, 16, 128, seed=51)
    a = ptxfmha.attention_with_kvcache(q, kc, vc, cache_seqlens=2500, causal=True)
    lens = torch.full((2,), 2500, dtype=torch.int32, device="cuda")
    b_ = ptxfmha.attention_with_kvcache(q, kc, vc, cache_seqlens=lens, causal=True, num_splits=1)
    ref_o, _ = reference(q, k, v, True, 128 ** -0.5, seqlens=lens)
    check("kvcache int seqlens", "decode", a, ref_o)
    check("kvcache num_splits=1", "decode", b_, ref_o)


def test_kvcache_long_query_uses_prefill_kernel():
    k, v, kc, vc, _ = _make_cache(2, 512, 2, 128, None, seed=60)
    q = randn(2, 16, 8, 128, seed=61)
    out = ptxfmha.flash_attn_with_kvcache(q, kc, vc, causal=True)
    assert torch.equal(out, ptxfmha.attention(q, kc, vc, causal=True))
    ref_o, _ = reference(q, k, v, True, 128 ** -0.5)
    check("kvcache sq=16 -> fwd", "fwd", out, ref_o)


def test_kvcache_long_query_with_seqlens_runs_paged_prefill():
    """More than 8 new tokens against a ragged paged cache: ptxfmha_attn (paged K/V,
    seqused_k = cache_seqlens), skipped while this device has no kernel for that."""
    k, v, kc, vc, table = _make_cache(2, 700, 2, 128, 64, seed=62)
    q = randn(2, 40, 8, 128, seed=63)
    lens = torch.tensor([700, 333], dtype=torch.int32, device="cuda")
    poison_allocator(2 * 40 * 8 * 128 * 2)
    out, lse = run_or_skip(ptxfmha.attention_with_kvcache, q, kc, vc, cache_seqlens=lens, block_table=table,
                           causal=True, return_lse=True)
    ref_o, ref_lse = reference(q, k, v, True, 128 ** -0.5, seqlens=lens)
    check("kvcache sq=40 paged ragged -> attn", "attn", out, ref_o, lse, ref_lse)


# ---- torch.compile, CUDA graphs, streams --------------------------------------------------------

def _pipeline(q, k, v, kc, vc, lens, table):
    a = ptxfmha.attention(q, k, v, causal=True)
    c = ptxfmha.attention(q, k, v, causal=False, softmax_scale=0.1)
    d = ptxfmha.attention_with_kvcache(q[:, :2], kc, vc, cache_seqlens=lens, block_table=table, causal=True)
    return a.float() * 2 + c.float(), d.float() + 1


def _pipeline_inputs(seed):
    q, k, v = randn(2, 300, 8, 128, seed=seed), randn(2, 300, 2, 128, seed=seed + 1), randn(2, 300, 2, 128, seed=seed + 2)
    _, _, kc, vc, table = _make_cache(2, 2000, 2, 128, 64, seed=seed + 3)
    lens = torch.tensor([2000, 1234], dtype=torch.int32, device="cuda")
    return q, k, v, kc, vc, lens, table


def test_torch_compile_fullgraph_matches_eager():
    torch._dynamo.reset()
    inputs = _pipeline_inputs(70)
    eager = _pipeline(*inputs)
    compiled = torch.compile(_pipeline, fullgraph=True)
    got = compiled(*inputs)
    for e, g in zip(eager, got):
        assert torch.equal(e, g), f"compiled differs from eager by {(e - g).abs().max().item()}"
    inputs2 = _pipeline_inputs(80)
    for e, g in zip(_pipeline(*inputs2), compiled(*inputs2)):
        assert torch.equal(e, g)


def test_torch_compile_dynamic_shapes():
    torch._dynamo.reset()

    def f(q, k, v):
        return ptxfmha.attention(q, k, v, causal=True, softmax_scale=0.125) * 3

    cf = torch.compile(f, fullgraph=True, dynamic=True)
    for s in (100, 333, 1000):
        q, k, v = randn(1, s, 4, 64, seed=s), randn(1, s, 4, 64, seed=s + 1), randn(1, s, 4, 64, seed=s + 2)
        assert torch.equal(cf(q, k, v), f(q, k, v)), s


@pytest.mark.parametrize("which", ["fwd", "decode"])
def test_cuda_graph_capture_and_replay(which):
    """Capture on PyTorch's graph stream (causal prefill then runs its static schedule; decode
    allocates its workspace from the graph's pool), replay twice on fresh inputs copied into the
    static ones, compare with eager calls on those inputs."""
    def run(q, k, v, kc, vc, lens, table):
        out = _pipeline(q, k, v, kc, vc, lens, table)
        return out[0] if which == "fwd" else out[1]

    static = list(_pipeline_inputs(90))
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            run(*static)  # warm-up outside capture: modules loaded, occupancy queried
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = run(*static)
    for seed in (100, 110):
        fresh = _pipeline_inputs(seed)
        for dst, src in zip(static, fresh):
            dst.copy_(src)
        graph.replay()
        torch.cuda.synchronize()
        want = run(*fresh)
        assert torch.equal(want, out), f"replay differs from eager by {(want - out).abs().max().item()}"


def test_several_streams():
    n = 4
    work = [_pipeline_inputs(200 + 10 * i) for i in range(n)]
    want = [_pipeline(*w) for w in work]
    torch.cuda.synchronize()
    streams = [torch.cuda.Stream() for _ in range(n)]
    for _ in range(3):
        got = [None] * n
        for i, s in enumerate(streams):
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                got[i] = _pipeline(*work[i])
        torch.cuda.synchronize()
        for i in range(n):
            for w, g in zip(want[i], got[i]):
                assert torch.equal(w, g), f"stream {i} differs by {(w - g).abs().max().item()}"


# ---- errors ------------------------------------------------------------------------------------

def test_bad_stride_is_value_error_from_the_library():
    buf = randn(2, 64, 1, 68, seed=300)
    q = buf[..., :64]                                   # seq stride 68: not a multiple of 8
    k, v = randn(2, 64, 1, 64, seed=301), randn(2, 64, 1, 64, seed=302)
    with pytest.raises(ValueError, match="q_seq_stride = 68") as ei:
        ptxfmha.attention(q, k, v)
    assert ei.value.status == ptxfmha.Status.ERR_INVALID_STRIDE and ei.value.argument == "q"


def test_unsupported_head_dim_names_head_dim():
    q = randn(1, 16, 2, 96, seed=310)
    with pytest.raises(ValueError, match="head_dim = 96") as ei:
        ptxfmha.attention(q, q, q)
    assert ei.value.status == ptxfmha.Status.ERR_UNSUPPORTED_HEAD_DIM


def test_misaligned_tensor_is_value_error():
    flat = randn(2 * 16 * 2 * 64 + 1, seed=320)
    q = flat[1:].view(2, 16, 2, 64)                      # data_ptr 2 bytes past an aligned one
    k = randn(2, 16, 2, 64, seed=321)
    with pytest.raises(ValueError) as ei:
        ptxfmha.attention(q, k, k)
    assert ei.value.status == ptxfmha.Status.ERR_MISALIGNED_POINTER and ei.value.argument == "q"


@pytest.mark.parametrize("what", ["fp16", "cpu", "3d", "head-stride"])
def test_python_side_errors(what):
    q = randn(1, 16, 2, 64, seed=330)
    k = q
    if what == "fp16":
        q = q.half()
    elif what == "cpu":
        q = q.cpu()
    elif what == "3d":
        q = q[0]
    elif what == "head-stride":
        q = randn(1, 16, 2, 128, seed=331)[..., ::2]
    with pytest.raises(ArgumentError):
        ptxfmha.attention(q, k, k)


def test_missing_cubins_is_runtime_error(tmp_path):
    code = (
        "import torch, ptxfmha\n"
        "q = torch.randn(1, 16, 2, 64, device='cuda', dtype=torch.bfloat16)\n"
        "try:\n    ptxfmha.attention(q, q, q)\n"
        "except RuntimeError as e:\n    print('RuntimeError', type(e).__name__, e.status.name)\n"
    )
    env = dict(os.environ, PTXFMHA_CUBIN_DIR=str(tmp_path / "none"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "RuntimeError DeviceError ERR_CUBIN_MISSING" in r.stdout, r.stdout
    assert issubclass(DeviceError, RuntimeError)
