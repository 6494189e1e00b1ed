"""Helpers of the GPU tests: the skip condition, float64 references built on
torch.nn.functional.scaled_dot_product_attention, and the README's accuracy bounds.
Importable without PyTorch (torch is then None and every GPU test is reported skipped, one by
one, with the reason)."""

import pytest

from conftest import record_figures

try:
    import torch
    F = torch.nn.functional
except ImportError:
    torch = F = None


def gpu_reason():
    if torch is None:
        return "PyTorch is not installed"
    if not torch.cuda.is_available():
        return "no CUDA GPU visible to PyTorch"
    major, minor = torch.cuda.get_device_capability()
    if (major, minor) != (9, 0) and major != 10:
        return f"GPU has compute capability {major}.{minor}; ptx-fmha has kernels for 9.0 (sm_90a) and 10.x (sm_100a)"
    return None


needs_gpu = pytest.mark.skipif(gpu_reason() is not None, reason=gpu_reason() or "")

# README "Accuracy": O rel. L2 <= 2e-2, cosine >= 0.9999, |err| <= 2e-2 + 2e-2 |ref| per element,
# LSE |err| <= 1e-3 + 2e-5 |ref|; NaN never passes; a row that sees no key is O = 0, LSE = -inf.
REL_L2_MAX = 2e-2
COSINE_MIN = 0.9999
ATOL, RTOL = 2e-2, 2e-2
LSE_ATOL, LSE_RTOL = 1e-3, 2e-5


def poison_allocator(nbytes, device="cuda"):
    """Fills a block of PyTorch's caching allocator with NaN and frees it, so an output the op
    allocates next (same size class) starts as NaN: an element the kernel does not write fails."""
    x = torch.full(((nbytes + 1) // 2,), float("nan"), dtype=torch.bfloat16, device=device)
    del x


def reference(q, k, v, causal, scale, seqlens=None):
    """float64 O [b, sq, hq, d] and LSE [b, hq, sq] from the bf16 inputs: SDPA (math backend,
    float64) with an explicit mask; keys j < seqlens[b] (all when None), causal bottom-right
    (j <= i + len_b - sq). Rows with no visible key: O = 0, LSE = -inf."""
    b, sq, hq, d = q.shape
    sk, hkv = k.shape[1], k.shape[2]
    qd = q.double().transpose(1, 2)
    kd = k.double().transpose(1, 2).repeat_interleave(hq // hkv, dim=1)
    vd = v.double().transpose(1, 2).repeat_interleave(hq // hkv, dim=1)
    lens = (torch.full((b,), sk, dtype=torch.int64, device=q.device) if seqlens is None
            else seqlens.to(torch.int64))
    i = torch.arange(sq, device=q.device).view(1, sq, 1)
    j = torch.arange(sk, device=q.device).view(1, 1, sk)
    allowed = j < lens.view(b, 1, 1)
    if causal:
        allowed = allowed & (j <= i + lens.view(b, 1, 1) - sq)
    allowed = allowed.unsqueeze(1)  # [b, 1, sq, sk]
    has_key = allowed.any(-1)       # [b, 1, sq]
    safe = allowed | ~has_key.unsqueeze(-1)  # SDPA gets no fully-masked row
    with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
        o = F.scaled_dot_product_attention(qd, kd, vd, attn_mask=safe, scale=scale)
    o = torch.where(has_key.unsqueeze(-1), o, torch.zeros((), dtype=o.dtype, device=o.device))
    s = (qd @ kd.transpose(-1, -2)) * scale
    s = s.masked_fill(~allowed, float("-inf"))
    lse = torch.logsumexp(s, dim=-1)  # -inf where no key
    return o.transpose(1, 2), lse


def check(name, path, out, ref_o, lse=None, ref_lse=None):
    """Asserts the README bounds; records the figures; the message names the first bad index."""
    assert out.dtype == torch.bfloat16 and tuple(out.shape) == tuple(ref_o.shape)
    o = out.double()
    assert torch.isfinite(o).all(), f"{name}: non-finite output at {torch.nonzero(~torch.isfinite(o))[0].tolist()}"
    err = (o - ref_o).abs()
    bad = err > ATOL + RTOL * ref_o.abs()
    rel = ((o - ref_o).norm() / ref_o.norm().clamp_min(1e-300)).item()
    cos = (torch.dot(o.flatten(), ref_o.flatten()) / (o.norm() * ref_o.norm()).clamp_min(1e-300)).item()
    if ref_o.norm() == 0:
        rel, cos = (0.0, 1.0) if o.norm() == 0 else (float("inf"), 0.0)
    lse_err = None
    if lse is not None:
        assert lse.dtype == torch.float32 and tuple(lse.shape) == tuple(ref_lse.shape)
        fin = torch.isfinite(ref_lse)
        assert torch.equal(torch.isneginf(lse), ~fin), f"{name}: LSE -inf rows differ from the reference"
        l_err = (lse.double() - ref_lse).abs()[fin]
        lse_err = l_err.max().item() if l_err.numel() else 0.0
        l_bad = l_err > LSE_ATOL + LSE_RTOL * ref_lse[fin].abs()
        assert not l_bad.any(), f"{name}: LSE error {lse_err:.3e} beyond {LSE_ATOL}+{LSE_RTOL}|ref|"
    record_figures(name, path, rel, cos, err.max().item(), lse_err)
    if bad.any():
        idx = torch.nonzero(bad)[0].tolist()
        raise AssertionError(f"{name}: |err| {err[tuple(idx)].item():.3e} at {idx} (out {o[tuple(idx)].item():.5f}, "
                             f"ref {ref_o[tuple(idx)].item():.5f}); rel.L2 {rel:.2e}, cosine {cos:.7f}")
    assert rel <= REL_L2_MAX, f"{name}: rel.L2 {rel:.3e} > {REL_L2_MAX}"
    assert cos >= COSINE_MIN, f"{name}: cosine {cos:.7f} < {COSINE_MIN}"


# Backward (README "Backward", tests/test_gpu_bwd.cpp): dQ / dK / dV rel. L2 <= 2e-2 and
# cosine >= 0.9998 against float64 autograd.
GRAD_REL_L2_MAX = 2e-2
GRAD_COSINE_MIN = 0.9998


def check_grad(name, what, got, want):
    """A gradient against its float64 reference: finite, rel. L2 and cosine bounds; figures
    recorded under path "bwd"; the message names the worst index."""
    assert tuple(got.shape) == tuple(want.shape), f"{name} {what}: shape {tuple(got.shape)} vs {tuple(want.shape)}"
    g = got.double()
    assert torch.isfinite(g).all(), f"{name} {what}: non-finite at {torch.nonzero(~torch.isfinite(g))[0].tolist()}"
    err = (g - want).abs()
    rel = ((g - want).norm() / want.norm().clamp_min(1e-300)).item()
    cos = (torch.dot(g.flatten(), want.flatten()) / (g.norm() * want.norm()).clamp_min(1e-300)).item()
    record_figures(f"{name} {what}", "bwd", rel, cos, err.max().item())
    worst = torch.nonzero(err == err.max())[0].tolist()
    detail = f"worst |err| {err.max().item():.3e} at {worst} (got {g[tuple(worst)].item():.5f}, ref " \
             f"{want[tuple(worst)].item():.5f})"
    assert rel <= GRAD_REL_L2_MAX, f"{name} {what}: rel.L2 {rel:.3e} > {GRAD_REL_L2_MAX}; {detail}"
    assert cos >= GRAD_COSINE_MIN, f"{name} {what}: cosine {cos:.7f} < {GRAD_COSINE_MIN}; {detail}"


def run_or_skip(fn, *args, **kwargs):
    """Calls fn; a feature without a kernel on this device (ERR_UNSUPPORTED_FEATURE) makes the
    test SKIPPED with the library's message, so such tests turn on by themselves when the
    kernels land. Every other error propagates."""
    from ptxfmha import ArgumentError, Status

    try:
        return fn(*args, **kwargs)
    except ArgumentError as e:
        if e.status == Status.ERR_UNSUPPORTED_FEATURE:
            pytest.skip(f"UNSUPPORTED_FEATURE: {e.message}")
        raise


def randn(*shape, seed=None, device="cuda"):
    g = torch.Generator(device=device)
    g.manual_seed(seed if seed is not None else 0)
    return torch.randn(*shape, generator=g, device=device, dtype=torch.float32).to(torch.bfloat16)
