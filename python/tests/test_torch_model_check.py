"""model_check.py itself, on the CPU (needs PyTorch and transformers; no GPU): a small model,
the kernels replaced by the float32 reference. Checks the script, not the kernels: every
section runs and reports, the routing of every forward pass is judged, and a section that
raises is reported as that section's ERROR without hiding the others."""

import sys
from pathlib import Path

import pytest

from conftest import have_module

_missing = [m for m in ("torch", "transformers") if not have_module(m)]
pytestmark = pytest.mark.skipif(bool(_missing), reason=f"{' and '.join(_missing)} not installed")

if not _missing:
    import ptxfmha.hf as hf
    from hf_harness import ref_attention

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import model_check

ARGS = ["--device", "cpu", "--tiny", "--prompt", "40", "--new-tokens", "6", "--prefill", "64", "--iters", "2",
        "--train-tokens", "24"]


def test_model_check_passes_with_reference_kernels(monkeypatch, capsys):
    monkeypatch.setattr(hf, "attention", ref_attention)
    monkeypatch.setattr(hf, "attention_with_kvcache", ref_attention)
    rc = model_check.main(ARGS)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "verdict: PASS" in out and "routing [ok]" in out, out
    assert "passes, greedy 6 tokens, decode kernel (ptxfmha_decode): 1 x 40 tokens -> prefill, " \
           "5 x 1 token -> decode" in out, out
    assert "passes, greedy 6 tokens, prefill kernel for decode steps: 1 x 40 tokens -> prefill, " \
           "5 x 1 token -> prefill" in out, out
    assert "passes, logits: 1 x 40 tokens -> prefill" in out, out
    assert "training step, 2 x 24 tokens, loss.backward() [ok]" in out, out
    assert "passes, training step: 1 x 24 tokens -> prefill" in out, out


def test_model_check_reports_every_section_when_one_fails(monkeypatch, capsys):
    def broken_decode(*_, **__):
        raise RuntimeError("decode kernel broken on purpose")

    monkeypatch.setattr(hf, "attention", ref_attention)
    monkeypatch.setattr(hf, "attention_with_kvcache", broken_decode)
    rc = model_check.main(ARGS)
    out = capsys.readouterr().out
    assert rc == 1, out
    assert "logits, 40-token prompt [ok]" in out, out
    assert "teacher-forced decode [ERROR]: RuntimeError: decode kernel broken on purpose" in out, out
    assert "greedy 6 tokens, decode kernel (ptxfmha_decode) [ERROR]" in out, out
    assert "greedy 6 tokens, prefill kernel for decode steps [ok]" in out, out  # never calls the decode kernel
    assert "prefill 64 tokens" in out and "verdict: FAIL" in out, out
    assert "training step, 2 x 24 tokens, loss.backward() [ok]" in out, out  # prefill kernel only


def test_model_check_fails_when_decode_steps_take_the_wrong_kernel(monkeypatch, capsys):
    """The routing judgement: decode steps sent to the prefill kernel (decode_kernel ignored)."""
    monkeypatch.setattr(hf, "attention", ref_attention)
    monkeypatch.setattr(hf, "attention_with_kvcache", ref_attention)
    hf.register()
    monkeypatch.setattr(hf, "_settings", {"decode_kernel": False})
    monkeypatch.setattr(hf, "register", lambda *a, **k: hf.NAME)  # keeps decode_kernel off
    rc = model_check.main(ARGS)
    out = capsys.readouterr().out
    assert rc == 1 and "routing [FAIL]" in out and "calls to the decode kernel" in out, out


def test_model_check_fails_a_divergence_above_the_bf16_noise(monkeypatch, capsys):
    """A decode kernel that is wrong (V x 3) diverges at a step whose margin is far above the
    measured bf16 noise: judged NOT a near-tie (the rule can fail)."""
    monkeypatch.setattr(hf, "attention", ref_attention)
    monkeypatch.setattr(hf, "attention_with_kvcache", lambda q, k, v, *a, **kw: ref_attention(q, k, v * 3, *a, **kw))
    rc = model_check.main(ARGS)
    out = capsys.readouterr().out
    assert rc == 1, out
    line = next(x for x in out.splitlines() if x.startswith("greedy 6 tokens, decode kernel"))
    assert "[FAIL]" in line and "NOT a near-tie: margin > 3 x bf16 noise" in line and "float32 picks" in line, line
    assert "sdpa top-2 margin / bf16 noise" in out, out


def test_divergence_rule():
    assert model_check.divergence_verdict(1e-3, 1e-3, True)[0]
    assert model_check.divergence_verdict(2.9e-3, 1e-3, True)[0]
    assert not model_check.divergence_verdict(3.1e-3, 1e-3, True)[0]
    ok, words = model_check.divergence_verdict(1e-3, 1e-3, False)
    assert not ok and "teacher-forced check failed" in words


def test_model_check_peaked_and_breakdown_report(monkeypatch, capsys):
    """--peaked and --breakdown on the CPU: the peakedness line, the per-implementation
    breakdown (attention calls timed against the forward, the profiler's view)."""
    monkeypatch.setattr(hf, "attention", ref_attention)
    monkeypatch.setattr(hf, "attention_with_kvcache", ref_attention)
    rc = model_check.main(ARGS + ["--peaked", "10", "--breakdown"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "peaked logits (--peaked 10" in out and "attention decides the argmax at" in out, out
    for impl in ("sdpa", "ptxfmha"):
        assert f"breakdown {impl} (attn_implementation='{impl}'" in out and "inside the 2 attention calls" in out, out
    assert "attention alone, q (1, 4, 64, 64) k (1, 2, 64, 64) causal: ptxfmha, contiguous" in out, out
    assert "passes, prefill timing:" in out and "routing [ok]" in out, out
