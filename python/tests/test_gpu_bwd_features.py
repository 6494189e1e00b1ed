"""GPU tests of autograd through ptxfmha with the serving features (skipped without PyTorch or a
ptx-fmha GPU): loss.backward through ptxfmha.attention with a sliding window, softcap, ALiBi and
attention sinks against float64 autograd of reference.attention_ref (the C ABI's semantics) on
the same bf16 inputs: dQ, dK, dV and the sinks' gradient (ptxfmha_bwd's d_sink), bounds as
test_gpu_bwd.py (gpu_util.check_grad, recorded under "bwd"). A feature without a backward kernel
on this device is reported SKIPPED with the library's message (run_or_skip)."""

import pytest

from gpu_util import check_grad, needs_gpu, randn, run_or_skip, torch
from reference import attention_grads_ref

import ptxfmha

pytestmark = needs_gpu


# b, sq, sk, hq, hkv, d, attention() keywords (alibi / sinks: True = made here, per head)
CASES = [
    (2, 256, 256, 8, 2, 64, dict(causal=True, window_size=(64, 0), sinks=True)),
    (2, 200, 333, 4, 2, 128, dict(window_size=(100, 30), softcap=2.0)),
    (1, 128, 384, 8, 4, 128, dict(causal=True, alibi=True)),
    (2, 300, 300, 4, 4, 64, dict(causal=True, window_size=(96, 0), softcap=5.0, alibi=True, sinks=True)),
    (1, 333, 333, 8, 1, 128, dict(sinks=True, softcap=3.0)),
]


_SHORT = dict(causal="c", window_size="w", softcap="cap", alibi="alibi", sinks="sinks")


def _id(c):
    kw = "_".join(_SHORT[k] + ("" if v is True else str(v).replace(" ", "")) for k, v in c[6].items())
    return "{}x{}x{}_h{}:{}_d{}_".format(*c[:6]) + kw


def _per_head(hq, seed, lo, hi):
    g = torch.Generator(device="cuda").manual_seed(seed)
    return lo + (hi - lo) * torch.rand(hq, generator=g, device="cuda", dtype=torch.float32)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_feature_backward_vs_float64_autograd(case):
    b, sq, sk, hq, hkv, d, kw = case
    kw = dict(kw)
    q = randn(b, sq, hq, d, seed=1).requires_grad_()
    k = randn(b, sk, hkv, d, seed=2).requires_grad_()
    v = randn(b, sk, hkv, d, seed=3).requires_grad_()
    dout = randn(b, sq, hq, d, seed=4)
    sinks = _per_head(hq, 5, -1.0, 3.0).requires_grad_() if kw.pop("sinks", False) else None
    alibi = _per_head(hq, 6, 0.005, 0.1) if kw.pop("alibi", False) else None
    out = run_or_skip(ptxfmha.attention, q, k, v, sinks=sinks, alibi_slopes=alibi, **kw)
    run_or_skip(out.backward, dout)
    want = attention_grads_ref(dout, q, k, v, causal=kw.get("causal", False), scale=d ** -0.5,
                               window=kw.get("window_size", (-1, -1)), softcap=kw.get("softcap", 0.0), sinks=sinks,
                               alibi=alibi)
    for what, got, w in zip(("dq", "dk", "dv"), (q.grad, k.grad, v.grad), want):
        check_grad(_id(case), what, got, w)
    if sinks is not None:
        assert sinks.grad is not None and sinks.grad.shape == (hq,)
        check_grad(_id(case), "d_sinks", sinks.grad, want[3])


def test_feature_backward_under_torch_compile_fullgraph():
    """ptxfmha::bwd's fake with the features (and its d_sink output): the compiled step's
    gradients equal the eager step's (deterministic dQ)."""
    torch._dynamo.reset()
    alibi = _per_head(4, 7, 0.01, 0.05)

    def step(q, k, v, sinks, w):
        out = ptxfmha.attention(q, k, v, causal=True, window_size=(50, 0), softcap=4.0, alibi_slopes=alibi,
                                sinks=sinks, deterministic=True)
        return (out.float() * w).sum()

    compiled = torch.compile(step, fullgraph=True)
    grads = []
    for fn in (step, compiled):
        q, k, v = (randn(2, 200, h, 64, seed=80 + i).requires_grad_() for i, h in enumerate((4, 2, 2)))
        sinks = _per_head(4, 9, -1.0, 1.0).requires_grad_()
        run_or_skip(lambda: fn(q, k, v, sinks, randn(2, 200, 4, 64, seed=85).float()).backward())
        grads.append((q.grad, k.grad, v.grad, sinks.grad))
    for what, e, c in zip(("dq", "dk", "dv", "d_sinks"), *grads):
        assert torch.equal(e, c), f"compiled {what} differs from eager by {(e - c).abs().max().item()}"
