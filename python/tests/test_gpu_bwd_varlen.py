"""GPU tests of variable-length backward (skipped without PyTorch or a ptx-fmha GPU):
loss.backward through ptxfmha.attention_varlen / flash_attn_varlen_func (ptxfmha::bwd with
cu_seqlens_q / cu_seqlens_k / seqused_k / max_seqlen_q / max_seqlen_k, LSE packed [heads_q,
total_q]) against float64 autograd of the fixed-length math, one sequence at a time
(reference.varlen_grads_ref): odd lengths with an empty sequence and a one-token one, causal
and not, GQA, window / softcap / ALiBi / sinks, seqused_k, packed Q over fixed K, rows of no
sequence (gradient 0), head dims 64 / 128 / 256, both dQ modes. Bounds as test_gpu_bwd.py
(gpu_util.check_grad). While the library's backward refuses variable length
(ERR_UNSUPPORTED_FEATURE) the tests report SKIPPED with its message (run_or_skip)."""

import pytest

from gpu_util import check_grad, needs_gpu, randn, run_or_skip, torch
from reference import varlen_grads_ref

import ptxfmha

pytestmark = needs_gpu


def _cu(lens):
    out = [0]
    for n in lens:
        out.append(out[-1] + n)
    return torch.tensor(out, dtype=torch.int32, device="cuda")


def _per_head(hq, seed, lo, hi):
    g = torch.Generator(device="cuda").manual_seed(seed)
    return lo + (hi - lo) * torch.rand(hq, generator=g, device="cuda", dtype=torch.float32)


# lens_q, lens_k (None: fixed K of max(lens_q) keys per sequence... see _inputs), hq, hkv, d, keywords
CASES = [
    ([37, 0, 128, 1], [37, 0, 128, 1], 8, 2, 64, dict(causal=True)),
    ([100, 33, 250], [150, 64, 250], 4, 4, 128, dict(window_size=(40, 20), softcap=3.0)),
    ([77, 200, 5], [90, 200, 130], 8, 1, 128, dict(causal=True, alibi=True, sinks=True)),
    ([129, 64], [129, 300], 4, 2, 256, dict(causal=True)),
    ([61, 190], [90, 200], 4, 2, 64, dict(causal=True, seqused_k=[50, 200], window_size=(32, 0))),
    ([20, 45, 1], "fixed:64", 4, 2, 64, dict(causal=True, sinks=True)),
    ([33, 70], [33, 70], 4, 2, 64, dict(extra_rows=5, softcap=5.0)),
]


def _id(c):
    lq, lk, hq, hkv, d, kw = c
    return f"q{'-'.join(map(str, lq))}_k{lk if isinstance(lk, str) else '-'.join(map(str, lk))}_h{hq}:{hkv}_d{d}_" + \
        "_".join(k for k in kw)


def _inputs(case, seed=1, grad=True):
    lq, lk, hq, hkv, d, kw = case
    kw = dict(kw)
    extra = kw.pop("extra_rows", 0)
    total_q = sum(lq) + extra
    q = randn(total_q, hq, d, seed=seed)
    if isinstance(lk, str):  # packed Q over fixed K [batch, sk, hkv, d]
        sk = int(lk.split(":")[1])
        k, v = randn(len(lq), sk, hkv, d, seed=seed + 1), randn(len(lq), sk, hkv, d, seed=seed + 2)
        cu_k, max_k = None, sk
    else:
        k, v = randn(sum(lk), hkv, d, seed=seed + 1), randn(sum(lk), hkv, d, seed=seed + 2)
        cu_k, max_k = _cu(lk), max(lk)
    if grad:
        q, k, v = (t.requires_grad_() for t in (q, k, v))
    sinks = _per_head(hq, seed + 5, -1.0, 3.0).requires_grad_(grad) if kw.pop("sinks", False) else None
    alibi = _per_head(hq, seed + 6, 0.005, 0.1) if kw.pop("alibi", False) else None
    used = kw.pop("seqused_k", None)
    used = torch.tensor(used, dtype=torch.int32, device="cuda") if used is not None else None
    args = dict(cu_q=_cu(lq), cu_k=cu_k, max_q=max(lq), max_k=max_k, sinks=sinks, alibi=alibi, seqused_k=used)
    return q, k, v, args, kw


def _forward(q, k, v, a, kw, deterministic=False):
    if a["cu_k"] is None:  # packed Q over fixed K: the op (attention_varlen takes packed or paged K)
        left, right = kw.get("window_size", (-1, -1))
        return torch.ops.ptxfmha.attn(q, k, v, a["cu_q"], None, a["seqused_k"], None, a["max_q"], 0,
                                      kw.get("causal", False), q.shape[-1] ** -0.5, left, right, kw.get("softcap", 0.0),
                                      a["sinks"], a["alibi"], True, deterministic)[0]
    return ptxfmha.attention_varlen(q, k, v, a["cu_q"], a["cu_k"], a["max_q"], a["max_k"], seqused_k=a["seqused_k"],
                                    sinks=a["sinks"], alibi_slopes=a["alibi"], deterministic=deterministic, **kw)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_varlen_backward_vs_float64_per_sequence(case):
    q, k, v, a, kw = _inputs(case)
    dout = randn(*q.shape, seed=9)
    out = run_or_skip(_forward, q, k, v, a, kw)
    run_or_skip(out.backward, dout)
    d = q.shape[-1]
    want = varlen_grads_ref(dout, q, k, v, a["cu_q"], a["cu_k"], seqused_k=a["seqused_k"], sinks=a["sinks"],
                            causal=kw.get("causal", False), scale=d ** -0.5, window=kw.get("window_size", (-1, -1)),
                            softcap=kw.get("softcap", 0.0), alibi=a["alibi"])
    for what, got, w in zip(("dq", "dk", "dv"), (q.grad, k.grad, v.grad), want):
        check_grad(_id(case), what, got, w)
    rows = int(a["cu_q"][-1])
    assert torch.count_nonzero(q.grad[rows:]) == 0, "rows of no sequence got a gradient"
    if a["sinks"] is not None:
        check_grad(_id(case), "d_sinks", a["sinks"].grad, want[3])


def test_flash_attn_varlen_func_trains_deterministically():
    """flash_attn_varlen_func's signature, deterministic=True: two backward passes give bitwise
    equal gradients, and they match the reference."""
    case = ([300, 0, 77, 129], [300, 0, 77, 129], 8, 2, 128, dict(causal=True))
    grads = []
    for _ in range(2):
        q, k, v, a, kw = _inputs(case, seed=20)
        out = run_or_skip(ptxfmha.flash_attn_varlen_func, q, k, v, a["cu_q"], a["cu_k"], a["max_q"], a["max_k"],
                          causal=True, deterministic=True)
        run_or_skip(out.backward, randn(*q.shape, seed=29))
        grads.append((q.grad, k.grad, v.grad))
    for what, g0, g1 in zip(("dq", "dk", "dv"), *grads):
        assert torch.equal(g0, g1), f"deterministic {what} differs between runs"


def test_varlen_backward_under_torch_compile_fullgraph():
    """ptxfmha::bwd's fake with packed layouts: the compiled step's gradients equal eager's."""
    torch._dynamo.reset()
    case = ([45, 0, 130], [60, 10, 130], 4, 2, 64, dict(causal=True, softcap=4.0, sinks=True))

    def step(q, k, v, sinks, cu_q, cu_k, w):
        out = ptxfmha.attention_varlen(q, k, v, cu_q, cu_k, 130, 130, causal=True, softcap=4.0, sinks=sinks,
                                       deterministic=True)
        return (out.float() * w).sum()

    compiled = torch.compile(step, fullgraph=True)
    grads = []
    for fn in (step, compiled):
        q, k, v, a, _ = _inputs(case, seed=40)
        w = randn(*q.shape, seed=45).float()
        run_or_skip(lambda: fn(q, k, v, a["sinks"], a["cu_q"], a["cu_k"], w).backward())
        grads.append((q.grad, k.grad, v.grad, a["sinks"].grad))
    for what, e, c in zip(("dq", "dk", "dv", "d_sinks"), *grads):
        assert torch.equal(e, c), f"compiled {what} differs from eager by {(e - c).abs().max().item()}"


def test_paged_backward_still_names_what_is_missing():
    q = randn(1, 20, 2, 64, seed=50).requires_grad_()
    kc = randn(2, 16, 2, 64, seed=51)
    out = run_or_skip(ptxfmha.attention_with_kvcache, q, kc, kc, cache_seqlens=torch.tensor(
        [30], dtype=torch.int32, device="cuda"), block_table=torch.tensor([[0, 1]], dtype=torch.int32, device="cuda"),
        causal=True)
    with pytest.raises(NotImplementedError, match=r"paged K/V \(block_table\)"):
        out.float().sum().backward()
