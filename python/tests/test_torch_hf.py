"""attn_implementation="ptxfmha" inside transformers, on the CPU, with the kernels replaced by a
float32 reference (needs PyTorch and transformers; no GPU).

This pins down what the integration relies on, independent of the kernels: transformers calls
our mask function and our attention function with the layouts and lengths we expect; with a
DynamicCache every call is bottom-right causal attention of the new queries over all keys so
far (so a reference that knows nothing of the cache reproduces sdpa's logits and greedy tokens
exactly); decode steps go to the KV-cache entry point, every forward pass calling one kernel
once per layer; what is not supported (padding, dropout, windows, attention masks, static
caches, models not in bfloat16) raises ValueError instead of being ignored.

The stand-in kernels also take float32 (the models here are float32, so the comparisons with
sdpa are exact); test_float32_model_is_refused_with_the_fix checks the real dtype contract."""

import copy

import pytest

from conftest import have_module

_missing = [m for m in ("torch", "transformers") if not have_module(m)]
pytestmark = pytest.mark.skipif(bool(_missing), reason=f"{' and '.join(_missing)} not installed")

if not _missing:
    import torch
    import transformers

    import ptxfmha.hf as hf
    from hf_harness import KernelLog, ref_attention, routing_errors


LAYERS = 2


@pytest.fixture()
def patched(monkeypatch):
    """The kernels replaced by the float32 reference, which also takes float32 models, behind a
    KernelLog (tiny_models(log) watches the models' forward passes)."""
    log = KernelLog()
    monkeypatch.setattr(hf, "attention", log.wrap("prefill", ref_attention))
    monkeypatch.setattr(hf, "attention_with_kvcache", log.wrap("decode", ref_attention))
    monkeypatch.setattr(hf, "KERNEL_DTYPES", hf.KERNEL_DTYPES + ("float32",))
    hf.register()
    return log


def tiny_models(log=None, **extra):
    """An sdpa and a ptxfmha model with the same weights, each built from its own config:
    transformers 5.x from_config writes attn_implementation into the config it is given, so
    one shared config would make both models run the implementation named last."""
    cfg = transformers.LlamaConfig(vocab_size=128, hidden_size=128, intermediate_size=256, num_hidden_layers=LAYERS,
                                   num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                                   max_position_embeddings=256, **extra)
    torch.manual_seed(0)
    ref = transformers.AutoModelForCausalLM.from_config(copy.deepcopy(cfg), attn_implementation="sdpa").eval()
    ours = transformers.AutoModelForCausalLM.from_config(copy.deepcopy(cfg), attn_implementation="ptxfmha").eval()
    ours.load_state_dict(ref.state_dict())
    assert (ref.config._attn_implementation, ours.config._attn_implementation) == ("sdpa", "ptxfmha")
    if log is not None:
        log.watch(ref, "sdpa")
        log.watch(ours, "ptxfmha")
    return ref, ours


def check_cached_passes(passes, batch, prompt, new_tokens, decode_kernel=True):
    """The contract under generate() with a DynamicCache: the routing of every pass
    (hf_harness.routing_errors: the sdpa model never reaches ptxfmha, each ptxfmha pass calls
    the right kernel once per layer), each pass's new queries against every key so far, the
    prompt first, at least one decode step, and every token but the last generated one through
    attention exactly once - whatever number of passes generate() makes."""
    errors = routing_errors(passes, LAYERS, decode_kernel)
    assert not errors, errors
    ours = [calls[0] for name, calls in passes if name == "ptxfmha"]
    assert ours, "the ptxfmha model made no forward pass"
    keys = 0
    for i, (_, qs, ks, _) in enumerate(ours):
        assert qs[0] == ks[0] == batch and ks[1] == keys + qs[1], f"pass {i}: q {qs}, k {ks}, {keys} keys before"
        keys = ks[1]
    assert ours[0][1][1] == prompt, f"the first pass is not the prompt: {ours[0]}"
    assert any(qs[1] == 1 for _, qs, _, _ in ours), "no decode step (one new token) was seen"
    assert keys == prompt + new_tokens - 1, f"{keys} tokens went through attention, expected {prompt} + {new_tokens} - 1"


def test_register_makes_the_name_valid():
    name = hf.register()
    assert name == "ptxfmha"
    assert transformers.AttentionInterface()["ptxfmha"] is hf.attention_forward


def test_prefill_logits_and_greedy_generation_match_sdpa(patched):
    ref, ours = tiny_models(patched)
    ids = torch.randint(3, 128, (2, 24), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = ref(ids).logits, ours(ids).logits
        assert torch.allclose(want, got, atol=1e-5, rtol=1e-4), (want - got).abs().max()
        assert patched.take() == [("sdpa", []), ("ptxfmha", [("prefill", (2, 24, 4, 32), (2, 24, 2, 32), True)] * LAYERS)]
        kw = dict(max_new_tokens=12, min_new_tokens=12, do_sample=False, pad_token_id=0,
                  attention_mask=torch.ones_like(ids))
        t_ref = ref.generate(ids, **kw)
        t_ours = ours.generate(ids, **kw)
    assert torch.equal(t_ref, t_ours)
    check_cached_passes(patched.take(), batch=2, prompt=24, new_tokens=12)


def test_decode_kernel_off_sends_decode_steps_to_prefill(patched):
    hf.register(decode_kernel=False)
    try:
        ref, ours = tiny_models(patched)
        ids = torch.randint(3, 128, (1, 10), generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            kw = dict(max_new_tokens=5, min_new_tokens=5, do_sample=False, pad_token_id=0,
                      attention_mask=torch.ones_like(ids))
            assert torch.equal(ref.generate(ids, **kw), ours.generate(ids, **kw))
        check_cached_passes(patched.take(), batch=1, prompt=10, new_tokens=5, decode_kernel=False)
    finally:
        hf.register()


def test_pass_checker_catches_wrong_routing():
    """check_cached_passes fails for each way the routing or the cache could be wrong."""
    p = (2, 24, 4, 32)
    prompt = [("prefill", p, (2, 24, 2, 32), True)] * LAYERS

    def step(kernel, keys):
        return [(kernel, (2, 1, 4, 32), (2, keys, 2, 32), True)] * LAYERS

    good = [("sdpa", []), ("ptxfmha", prompt), ("ptxfmha", step("decode", 25)), ("ptxfmha", step("decode", 26))]
    check_cached_passes(good, batch=2, prompt=24, new_tokens=3)
    bad = {
        "decode step to prefill": [good[0], good[1], ("ptxfmha", step("prefill", 25)), good[3]],
        "prompt to decode": [good[0], ("ptxfmha", [("decode",) + c[1:] for c in prompt]), good[2], good[3]],
        "sdpa model reached ptxfmha": [("sdpa", prompt)] + good[1:],
        "a layer missing": [good[0], good[1], ("ptxfmha", step("decode", 25)[:1]), good[3]],
        "a pass twice": good + [("ptxfmha", step("decode", 26))],
        "a token missing": good[:3],
        "not causal": [good[0], good[1], ("ptxfmha", [c[:3] + (False,) for c in step("decode", 25)]), good[3]],
        "layers disagree": [good[0], good[1], ("ptxfmha", step("decode", 25)[:1] + step("decode", 26)[:1]), good[3]],
        "keys not growing": [good[0], good[1], ("ptxfmha", step("decode", 24)), good[3]],
    }
    for what, passes in bad.items():
        with pytest.raises(AssertionError):
            check_cached_passes(passes, batch=2, prompt=24, new_tokens=3)
            pytest.fail(f"not caught: {what}")
    check_cached_passes(good[:1] + [("ptxfmha", prompt)] + [("ptxfmha", step("prefill", k)) for k in (25, 26)],
                        batch=2, prompt=24, new_tokens=3, decode_kernel=False)


def test_float32_model_is_refused_with_the_fix(monkeypatch):
    """The real dtype contract (no float32 stand-in): a float32 model fails at its first forward
    with a ValueError that says what to do, before any kernel is called; the same model in
    bfloat16 runs."""
    log = KernelLog()
    monkeypatch.setattr(hf, "attention", log.wrap("prefill", ref_attention))
    monkeypatch.setattr(hf, "attention_with_kvcache", log.wrap("decode", ref_attention))
    hf.register()
    _, ours = tiny_models(log)
    ids = torch.randint(3, 128, (1, 12))
    with torch.no_grad(), pytest.raises(ValueError, match=r"float32 model .*dtype=torch\.bfloat16"):
        ours(ids)
    assert log.take() == [("ptxfmha", [])]
    with torch.no_grad():
        logits = ours.to(torch.bfloat16)(ids).logits
    assert torch.isfinite(logits).all()
    assert routing_errors(log.take(), LAYERS) == []


def test_padding_mask_is_refused(patched):
    _, ours = tiny_models(patched)
    ids = torch.randint(0, 128, (2, 8))
    mask = torch.ones(2, 8, dtype=torch.long)
    mask[1, :3] = 0
    with torch.no_grad(), pytest.raises(ValueError, match="padding"):
        ours(ids, attention_mask=mask)
    with torch.no_grad():
        ours(ids, attention_mask=torch.ones(2, 8, dtype=torch.long))  # all ones: fine


def test_dropout_in_training_is_refused(patched):
    _, ours = tiny_models(patched, attention_dropout=0.1)
    ours.train()
    with pytest.raises(ValueError, match="dropout"):
        ours(torch.randint(0, 128, (1, 8)))


def test_direct_refusals():
    q = torch.zeros(1, 2, 4, 8, dtype=torch.bfloat16)
    for dt in (torch.float32, torch.float16):
        with pytest.raises(ValueError, match=f"{str(dt)[6:]} model .*dtype=torch.bfloat16"):
            hf.attention_forward(torch.nn.Module(), q.to(dt), q.to(dt), q.to(dt), None)
    for kw, text in (({"attention_mask": torch.ones(1, 1, 4, 4, dtype=torch.bool)}, "attention mask"),
                     ({"attention_mask": None, "sliding_window": 16}, "sliding_window"),
                     ({"attention_mask": None, "softcap": 30.0}, "softcap"),
                     ({"attention_mask": None, "s_aux": torch.zeros(2)}, "sinks"),
                     ({"attention_mask": None, "cu_seq_lens_q": torch.zeros(2)}, "variable-length")):
        with pytest.raises(ValueError, match=text):
            hf.attention_forward(torch.nn.Module(), q, q, q, **kw)
    from transformers import masking_utils as mu
    with pytest.raises(ValueError, match="keys must end at the last query"):
        hf.mask_interface(1, 1, 100, q_offset=5, kv_offset=0, mask_function=mu.causal_mask_function)
    with pytest.raises(ValueError, match="mask function"):
        hf.mask_interface(1, 4, 4, mask_function=mu.sliding_window_causal_mask_function(2))
    assert hf.mask_interface(1, 1, 6, q_offset=5, mask_function=mu.causal_mask_function) is None
