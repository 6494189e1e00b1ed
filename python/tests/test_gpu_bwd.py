"""GPU tests of autograd through ptxfmha (skipped without PyTorch or a ptx-fmha GPU): loss.backward
through ptxfmha.attention against float64 autograd of SDPA on the same bf16 inputs (dQ, dK, dV
rel. L2 and cosine, recorded in the accuracy table under "bwd"), GQA, strided inputs, the
deterministic flag (bitwise identical gradients), torch.compile(fullgraph=True) of forward and
backward, and CUDA-graph capture of a forward + backward step."""

import pytest

from gpu_util import F, check, check_grad, needs_gpu, randn, torch

import ptxfmha

pytestmark = needs_gpu


def sdpa64(q, k, v, dout, causal, scale):
    """float64 O and dQ, dK, dV by autograd of SDPA (math backend; bottom-right causal mask;
    GQA by repetition, so dK / dV sum over the query heads)."""
    qd, kd, vd = (t.detach().double().requires_grad_() for t in (q, k, v))
    hq, hkv, sq, sk = q.shape[2], k.shape[2], q.shape[1], k.shape[1]
    mask = None
    if causal:
        mask = torch.arange(sk, device="cuda").view(1, sk) <= torch.arange(sq, device="cuda").view(sq, 1) + sk - sq
    with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
        o = F.scaled_dot_product_attention(qd.transpose(1, 2), kd.transpose(1, 2).repeat_interleave(hq // hkv, 1),
                                           vd.transpose(1, 2).repeat_interleave(hq // hkv, 1), attn_mask=mask,
                                           scale=scale).transpose(1, 2)
    o.backward(dout.double())
    return o.detach(), qd.grad, kd.grad, vd.grad


# b, sq, sk, hq, hkv, d, causal
BWD_CASES = [
    (2, 256, 256, 8, 2, 64, True),
    (2, 300, 300, 4, 4, 64, False),
    (1, 512, 512, 8, 1, 128, True),
    (2, 200, 333, 8, 4, 128, False),
    (1, 128, 384, 4, 2, 256, True),     # fewer queries than keys: bottom-right diagonal
    (2, 1000, 1000, 2, 2, 128, True),
]


def _id(c):
    return "b{}_sq{}_sk{}_h{}x{}_d{}_{}".format(*c[:6], "causal" if c[6] else "full")


@pytest.mark.parametrize("case", BWD_CASES, ids=_id)
def test_backward_vs_float64_sdpa_autograd(case):
    b, sq, sk, hq, hkv, d, causal = case
    q = randn(b, sq, hq, d, seed=1).requires_grad_()
    k = randn(b, sk, hkv, d, seed=2).requires_grad_()
    v = randn(b, sk, hkv, d, seed=3).requires_grad_()
    dout = randn(b, sq, hq, d, seed=4)
    out = ptxfmha.attention(q, k, v, causal=causal)
    out.backward(dout)
    ref_o, dq, dk, dv = sdpa64(q, k, v, dout, causal, d ** -0.5)
    check("bwd-case fwd " + _id(case), "fwd", out.detach(), ref_o)
    for what, got, want in (("dq", q.grad, dq), ("dk", k.grad, dk), ("dv", v.grad, dv)):
        check_grad(_id(case), what, got, want)


def test_backward_through_strided_views_and_a_loss():
    """q/k/v as [b, h, s, d] storage seen as [b, s, h, d] (what transformers passes), a scalar
    loss whose gradient reaches out as a strided tensor."""
    b, s, hq, hkv, d = 2, 333, 8, 2, 128
    base = [randn(b, h, s, d, seed=10 + i).requires_grad_() for i, h in enumerate((hq, hkv, hkv))]
    q, k, v = (t.transpose(1, 2) for t in base)
    w = randn(b, hq, s, d, seed=20).transpose(1, 2)
    loss = (ptxfmha.attention(q, k, v, causal=True).float() * w.float()).sum()
    loss.backward()
    _, dq, dk, dv = sdpa64(q, k, v, w, True, d ** -0.5)
    for what, got, want in (("dq", base[0].grad.transpose(1, 2), dq), ("dk", base[1].grad.transpose(1, 2), dk),
                            ("dv", base[2].grad.transpose(1, 2), dv)):
        check_grad("strided views", what, got, want)


def _grads(deterministic, seed=30, sq=777, hq=8, hkv=1, d=128):
    q = randn(1, sq, hq, d, seed=seed).requires_grad_()
    k = randn(1, sq, hkv, d, seed=seed + 1).requires_grad_()
    v = randn(1, sq, hkv, d, seed=seed + 2).requires_grad_()
    ptxfmha.attention(q, k, v, causal=True, deterministic=deterministic).backward(randn(1, sq, hq, d, seed=seed + 3))
    return q.grad, k.grad, v.grad


def test_deterministic_gradients_are_bitwise_identical():
    first = _grads(True)
    for _ in range(3):
        again = _grads(True)
        for what, a, b in zip(("dq", "dk", "dv"), first, again):
            assert torch.equal(a, b), f"deterministic {what} differs between runs by {(a - b).abs().max().item()}"
    fast = _grads(False)
    for what, a, b in zip(("dq", "dk", "dv"), first, fast):
        check_grad("deterministic vs not", what, b, a.double())


def test_torch_compile_fullgraph_forward_and_backward():
    """AOT autograd traces ptxfmha::attn and ptxfmha::bwd through their fakes (inductor); the
    compiled step's gradients equal the eager step's (deterministic dQ)."""
    torch._dynamo.reset()

    def step(q, k, v, w):
        out = ptxfmha.attention(q, k, v, causal=True, deterministic=True)
        return (out.float() * w).sum()

    compiled = torch.compile(step, fullgraph=True)
    for seed in (40, 50):
        grads = []
        for fn in (step, compiled):
            q, k, v = (randn(2, 300, h, 64, seed=seed + i).requires_grad_() for i, h in enumerate((8, 2, 2)))
            fn(q, k, v, randn(2, 300, 8, 64, seed=seed + 5).float()).backward()
            grads.append((q.grad, k.grad, v.grad))
        for what, e, c in zip(("dq", "dk", "dv"), *grads):
            assert torch.equal(e, c), f"compiled {what} differs from eager by {(e - c).abs().max().item()}"


def test_cuda_graph_capture_of_forward_and_backward():
    """A training step (forward, loss, backward) captured into a CUDA graph: the backward's
    workspace and the gradients come from the graph's pool; replays on fresh inputs copied
    into the static ones equal eager steps (deterministic dQ)."""
    shape_q, shape_kv = (2, 256, 8, 128), (2, 256, 2, 128)
    static = [randn(*shape_q, seed=60).requires_grad_(), randn(*shape_kv, seed=61).requires_grad_(),
              randn(*shape_kv, seed=62).requires_grad_()]
    w = randn(*shape_q, seed=63).float()

    def step():
        for t in static:
            t.grad = None
        (ptxfmha.attention(*static, causal=True, deterministic=True).float() * w).sum().backward()

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            step()          # warm-up outside capture: modules loaded
    torch.cuda.current_stream().wait_stream(side)
    for t in static:
        t.grad = None
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        (ptxfmha.attention(*static, causal=True, deterministic=True).float() * w).sum().backward()
    captured = [t.grad for t in static]
    for seed in (70, 80):
        fresh = [randn(*shape_q, seed=seed), randn(*shape_kv, seed=seed + 1), randn(*shape_kv, seed=seed + 2)]
        with torch.no_grad():
            for dst, src in zip(static, fresh):
                dst.copy_(src)
        graph.replay()
        torch.cuda.synchronize()
        eager = [t.detach().clone().requires_grad_() for t in fresh]
        (ptxfmha.attention(*eager, causal=True, deterministic=True).float() * w).sum().backward()
        for what, g, e in zip(("dq", "dk", "dv"), captured, eager):
            assert torch.equal(g, e.grad), f"replayed {what} differs from eager by {(g - e.grad).abs().max().item()}"
