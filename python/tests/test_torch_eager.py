"""The eager fast path and the plan cache of ops.py, on the CPU (needs PyTorch; no GPU).

Fast path: plain eager calls reach the kernels through ops.EAGER_KERNELS (the stand-ins of
cpu_kernels.py for CPU tensors) without the custom op's dispatch, with results and gradients
identical to the op path (FAST_PATH off); under torch.compile, a dispatch mode, FakeTensor or
a gradient the decode kernel lacks, the calls go through torch.ops.ptxfmha.*.

Plans: a kernel's second call with the same shapes reuses the checked problem and the filled
parameter block and sets only the addresses; the block it sends is byte for byte the block a
fresh build gives (every address field is set per call: _checks.*_pointers covers every
pointer field of each block but the workspace)."""

import contextlib
import ctypes

import pytest

from conftest import have_module

pytestmark = pytest.mark.skipif(not have_module("torch"), reason="torch not installed")

if have_module("torch"):
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    import cpu_kernels
    import ptxfmha
    from ptxfmha import _abi, _checks, _lib, ops

    class _OpNames(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.names = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.names.append(str(func))
            return func(*args, **(kwargs or {}))


@pytest.fixture()
def eager(monkeypatch):
    """The stand-ins installed; returns the list of kernels the fast path called."""
    cpu_kernels.install(monkeypatch)
    seen = []
    table = {name: (lambda f, n: lambda *a: (seen.append(n), f(*a))[1])(f, name)
             for name, f in ops.EAGER_KERNELS["cpu"].items()}
    monkeypatch.setitem(ops.EAGER_KERNELS, "cpu", table)
    return seen


def bf16(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g).to(torch.bfloat16)


def _train(fn, seed):
    q = bf16(2, 20, 4, 32, seed=seed).requires_grad_()
    k, v = (bf16(2, 24, 2, 32, seed=seed + i).requires_grad_() for i in (1, 2))
    sinks = torch.tensor([0.5, -1.0, 2.0, 0.0], requires_grad=True)
    out = fn(q, k, v, sinks)
    out.float().square().sum().backward()
    return out.detach(), q.grad, k.grad, v.grad, sinks.grad


def _varlen(q, k, v, sinks):
    cu_q, cu_k = torch.tensor([0, 7, 7, 20], dtype=torch.int32), torch.tensor([0, 9, 15, 24], dtype=torch.int32)
    return ptxfmha.attention_varlen(q.reshape(-1, 4, 32)[:20], k.reshape(-1, 2, 32)[:24], v.reshape(-1, 2, 32)[:24],
                                    cu_q, cu_k, 13, 9, causal=True, sinks=sinks, softcap=3.0)


@pytest.mark.parametrize("fn", [
    lambda q, k, v, s: ptxfmha.attention(q, k, v, causal=True, sinks=s, window_size=(5, 0)),
    _varlen,
], ids=["fixed", "varlen"])
def test_fast_path_is_taken_and_equals_the_op_path(eager, monkeypatch, fn):
    fast = _train(fn, 3)
    assert eager == ["attn", "bwd"], eager
    monkeypatch.setattr(ops, "FAST_PATH", False)
    slow = _train(fn, 3)
    assert eager == ["attn", "bwd"], "FAST_PATH = False still took the fast path"
    assert [op for op, _ in cpu_kernels.CALLS] == ["attn", "bwd"] * 2
    for a, b in zip(fast, slow):
        assert a is not None and torch.equal(a, b)


def test_inference_and_decode_take_the_fast_path(eager):
    q = bf16(1, 16, 2, 32)
    with torch.no_grad():
        ptxfmha.attention(q, q, q)
    ptxfmha.attention_with_kvcache(bf16(1, 1, 2, 32), bf16(1, 10, 2, 32), bf16(1, 10, 2, 32))
    assert eager == ["attn", "decode_attn"]


def test_decode_needing_a_gradient_goes_through_the_op(eager):
    q = bf16(1, 1, 2, 32).requires_grad_()
    out = ptxfmha.attention_with_kvcache(q, bf16(1, 10, 2, 32), bf16(1, 10, 2, 32))
    assert eager == [] and cpu_kernels.CALLS[-1][0] == "decode_attn"
    with pytest.raises(NotImplementedError, match="inference"):
        out.float().sum().backward()


def test_a_dispatch_mode_sees_the_custom_ops(eager):
    q = bf16(1, 16, 2, 32).requires_grad_()
    with _OpNames() as mode:
        ptxfmha.attention(q, q, q, causal=True).float().sum().backward()
    assert eager == []
    assert any(n.startswith("ptxfmha.attn") for n in mode.names), mode.names
    assert any(n.startswith("ptxfmha.bwd") for n in mode.names), mode.names


def test_compile_traces_the_custom_ops_not_the_fast_path(eager):
    torch._dynamo.reset()
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(str(gm.graph))
        return gm.forward

    q = bf16(1, 16, 2, 32)
    with torch.no_grad():
        got = torch.compile(lambda x: ptxfmha.attention(x, x, x, causal=True), fullgraph=True, backend=backend)(q)
        want = ptxfmha.attention(q, q, q, causal=True)
    assert torch.equal(got, want)
    assert graphs and "ptxfmha.attn" in graphs[0], graphs
    assert eager == ["attn"], "only the uncompiled call takes the fast path"


def test_jit_trace_records_the_custom_op(eager):
    q = bf16(1, 16, 2, 32)
    with torch.no_grad():
        traced = torch.jit.trace(lambda x: ptxfmha.attention(x, x, x, causal=True), (q,), check_trace=False)
    assert "ptxfmha::attn" in str(traced.graph) and eager == []
    assert torch.equal(traced(q), ptxfmha.attention(q, q, q, causal=True))


def test_fake_tensors_go_through_the_op(eager):
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode() as mode:
        q = mode.from_tensor(bf16(2, 16, 4, 32))
        out = ptxfmha.attention(q, q[:, :, :2], q[:, :, :2], causal=True)
    assert tuple(out.shape) == (2, 16, 4, 32) and eager == []


# ---- plans -------------------------------------------------------------------------------------

POINTERS = [("AttnParams", "attn_pointers", 12), ("BwdParams", "bwd_pointers", 16),
            ("DecodeAttnParams", "decode_pointers", 10)]


@pytest.mark.parametrize("cls,pointers,nargs", POINTERS, ids=[c for c, _, _ in POINTERS])
def test_pointer_sets_cover_every_address_field(cls, pointers, nargs):
    fields = {n for n, t in getattr(_abi, cls)._fields_
              if t is ctypes.c_void_p or (isinstance(t, type) and issubclass(t, ctypes._Pointer))}
    assert set(getattr(_checks, pointers)(*[None] * nargs)) == fields - {"workspace"}


@pytest.fixture()
def captured(monkeypatch):
    """The real CUDA kernels' Python side on CPU tensors with the C calls captured: returns
    {entry point: [bytes of each block sent]}."""
    sent = {}

    def call(function, *args):
        if not function.endswith("_workspace_size"):
            block = args[0]._obj
            sent.setdefault(function, []).append(bytes(block))

    monkeypatch.setattr(_checks, "ACCEPTED_DEVICES", ("cuda", "cpu"))
    monkeypatch.setattr(_lib, "call", call)
    monkeypatch.setattr(ops, "_PLANS", {})
    monkeypatch.setattr(ops, "device_context", lambda ordinal: contextlib.nullcontext())
    monkeypatch.setattr(ops, "_stream", lambda device: 0x1230)
    monkeypatch.setattr(ops, "_ordinal", lambda device: 0)
    return sent


def _same_outputs(monkeypatch, name):
    """Makes ops.<name> (an output allocator) return the same tensors every call, so that
    two blocks of one call shape can be compared byte for byte."""
    real, memo = getattr(ops, name), []

    def fixed(*a):
        if not memo:
            memo.append(real(*a))
        return memo[0]
    monkeypatch.setattr(ops, name, fixed)


def _three_blocks(monkeypatch, sent, entry, run):
    """Blocks of: a first call (inputs A), a second with other inputs B of the same shapes
    (from the plan), and B again with an empty plan cache (built fresh)."""
    memo = {}

    def inputs(seed):  # one set of tensors per seed (the same addresses when called again)
        if seed not in memo:
            memo[seed] = run(seed)
        return memo[seed]
    for seed in (0, 1):
        inputs(seed)()
    monkeypatch.setattr(ops, "_PLANS", {})
    inputs(1)()
    a, b_plan, b_fresh = sent[entry]
    assert b_plan == b_fresh, "a planned block differs from a fresh one"
    assert a != b_plan, "the addresses did not change"


def test_planned_attn_block_equals_a_fresh_one(captured, monkeypatch):
    _same_outputs(monkeypatch, "_attn_outputs")
    cu_q, cu_k = torch.tensor([0, 5, 12], dtype=torch.int32), torch.tensor([0, 9, 30], dtype=torch.int32)

    def run(seed):
        t = [bf16(12, 4, 32, seed=seed), bf16(30, 2, 32, seed=seed + 1), bf16(30, 2, 32, seed=seed + 2)]
        extra = [torch.zeros(4) + seed, torch.ones(4) + seed, torch.tensor([9, 21], dtype=torch.int32) + seed]
        cu = cu_q.clone(), cu_k.clone()
        return lambda: ops._attn_kernel(*t, *cu, extra[2], None, 7, 21, True, 0.2, 3, 0, 5.0, extra[0], extra[1], True,
                                        False)
    _three_blocks(monkeypatch, captured, "ptxfmha_attn", run)


def test_planned_bwd_block_equals_a_fresh_one(captured, monkeypatch):
    _same_outputs(monkeypatch, "_bwd_outputs")
    cu_q, cu_k = torch.tensor([0, 5, 12], dtype=torch.int32), torch.tensor([0, 9, 30], dtype=torch.int32)

    def run(seed):
        q, k, v = bf16(12, 4, 32, seed=seed), bf16(30, 2, 32, seed=seed + 1), bf16(30, 2, 32, seed=seed + 2)
        t = (bf16(12, 4, 32), q, k, v, bf16(12, 4, 32), torch.zeros(4, 12), True, 0.2, True, 3, 0, 5.0,
             torch.zeros(4), torch.ones(4), cu_q.clone(), cu_k.clone(), None, 7, 21)
        return lambda: ops._bwd_kernel(*t)
    _three_blocks(monkeypatch, captured, "ptxfmha_bwd", run)


def test_planned_decode_block_equals_a_fresh_one(captured, monkeypatch):
    _same_outputs(monkeypatch, "_decode_outputs")

    def run(seed):
        table = torch.tensor([[0, 2], [1, 3]], dtype=torch.int32) + 0
        t = (bf16(2, 3, 4, 32, seed=seed), bf16(4, 16, 2, 32), bf16(4, 16, 2, 32),
             torch.tensor([20, 31], dtype=torch.int32), table, True, 0.2, 8, 0, 0.0, torch.zeros(4), None, 0, True,
             None, None)
        return lambda: ops._decode_attn_kernel(*t)
    _three_blocks(monkeypatch, captured, "ptxfmha_decode_attn", run)


def test_a_failed_check_is_not_remembered(captured):
    q = bf16(1, 16, 2, 32)
    for _ in range(2):
        with pytest.raises(ptxfmha.ArgumentError, match="head_dim"):
            ops._attn_kernel(q, bf16(1, 16, 2, 64), bf16(1, 16, 2, 64), None, None, None, None, 0, 0, True, 0.2,
                             -1, -1, 0.0, None, None, False, False)
    assert ops._PLANS == {}


@pytest.mark.parametrize("value,on", [("1", False), ("0", True), ("", True)])
def test_the_environment_switch(value, on):
    import os
    import subprocess
    import sys

    env = dict(os.environ, PTXFMHA_NO_FAST_PATH=value)
    r = subprocess.run([sys.executable, "-c", "import ptxfmha.ops as o; print(o.FAST_PATH)"], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(on)
