"""attn_implementation="ptxfmha" inside transformers, on the CPU, with the kernels replaced by
the stand-in kernels of cpu_kernels.py (float64 reference math behind the real custom ops;
needs PyTorch and transformers; no GPU).

This pins down what the integration relies on, independent of the kernels: transformers calls
our mask function and our attention function with the layouts and lengths we expect; with a
DynamicCache every call is bottom-right causal attention of the new queries over all keys so
far (so a reference that knows nothing of the cache reproduces sdpa's logits and greedy tokens
exactly); decode steps go to the KV-cache entry point, every forward pass calling one kernel
once per layer; padded batches go through the variable-length entry point and match sdpa on
the real tokens (prefill and left-padded generation); sliding windows (Mistral), softcap
(Gemma 2) and attention sinks (gpt-oss) reach the kernels and match the models' own
implementations; what is not supported (padding with holes, dropout, packed sequences,
4-D masks, static caches, models not in bfloat16) raises ValueError instead of being ignored.

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

    import cpu_kernels
    import ptxfmha.hf as hf
    from hf_harness import KernelLog, ref_attention, routing_errors


LAYERS = 2


@pytest.fixture()
def patched(monkeypatch):
    """The real ops on the stand-in kernels, which also take float32 models here, behind a
    KernelLog (tiny_models(log) watches the models' forward passes)."""
    cpu_kernels.install(monkeypatch, dtypes=("bfloat16", "float32"))
    log = KernelLog()
    monkeypatch.setattr(hf, "attention", log.wrap("prefill", hf.attention))
    monkeypatch.setattr(hf, "attention_with_kvcache", log.wrap("decode", hf.attention_with_kvcache))
    monkeypatch.setattr(hf, "attention_varlen", log.wrap("varlen", hf.attention_varlen))
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
    return model_pair(cfg, "sdpa", log)


def model_pair(cfg, reference_impl, log=None):
    """A `reference_impl` model and a ptxfmha model of cfg with the same weights (seed 0), each
    from its own copy of cfg (see above), watched by log when given."""
    torch.manual_seed(0)
    ref = transformers.AutoModelForCausalLM.from_config(copy.deepcopy(cfg), attn_implementation=reference_impl).eval()
    ours = transformers.AutoModelForCausalLM.from_config(copy.deepcopy(cfg), attn_implementation="ptxfmha").eval()
    ours.load_state_dict(ref.state_dict())
    assert (ref.config._attn_implementation, ours.config._attn_implementation) == (reference_impl, "ptxfmha")
    if log is not None:
        log.watch(ref, reference_impl)
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


def test_padded_prefill_runs_varlen_and_matches_sdpa_on_real_tokens(patched):
    ref, ours = tiny_models(patched)
    ids = torch.randint(3, 128, (3, 20), generator=torch.Generator().manual_seed(4))
    mask = torch.ones(3, 20, dtype=torch.long)
    mask[1, 13:] = 0     # right padding
    mask[2, :6] = 0      # left padding
    with torch.no_grad():
        want, got = ref(ids, attention_mask=mask).logits, ours(ids, attention_mask=mask).logits
    real = mask.bool()
    assert torch.allclose(want[real], got[real], atol=1e-5, rtol=1e-4), (want[real] - got[real]).abs().max()
    with torch.inference_mode():  # inference tensors: no version counter for the unpadding cache
        assert torch.equal(ours(ids, attention_mask=mask).logits, got)
    passes = patched.take()[:2]
    assert routing_errors(passes, LAYERS, padded=True) == [], passes
    c = [kw for op, kw in cpu_kernels.CALLS if op == "attn"][-1]
    assert c["varlen_q"] and c["varlen_k"] and c["causal"] and c["q_shape"] == (int(real.sum()), 4, 32)


def test_left_padded_generation_matches_sdpa(patched):
    ref, ours = tiny_models(patched)
    ids = torch.randint(3, 128, (2, 16), generator=torch.Generator().manual_seed(5))
    mask = torch.ones(2, 16, dtype=torch.long)
    mask[0, :5] = 0
    ids[0, :5] = 0
    kw = dict(max_new_tokens=6, min_new_tokens=6, do_sample=False, pad_token_id=0, attention_mask=mask)
    with torch.no_grad():
        t_ref, t_ours = ref.generate(ids, **kw), ours.generate(ids, **kw)
    assert torch.equal(t_ref, t_ours)
    passes = patched.take()
    assert routing_errors(passes, LAYERS, padded=True) == [], passes


def test_padding_that_varlen_cannot_reproduce_is_refused(patched):
    _, ours = tiny_models(patched)
    ids = torch.randint(0, 128, (2, 8))
    holes = torch.ones(2, 8, dtype=torch.long)
    holes[1, 3] = 0
    with torch.no_grad(), pytest.raises(ValueError, match="holes"):
        ours(ids, attention_mask=holes)
    from transformers import masking_utils as mu
    right = torch.ones(2, 9, dtype=torch.bool)
    right[0, 7:] = False
    with pytest.raises(ValueError, match="left padding"):
        hf.mask_interface(2, 1, 9, q_offset=8, kv_offset=0, mask_function=mu.causal_mask_function,
                          attention_mask=right)
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
    for kw, text in (({"attention_mask": torch.ones(1, 1, 4, 4, dtype=torch.bool)}, "2-D boolean padding mask"),
                     ({"attention_mask": torch.ones(1, 4)}, "2-D boolean padding mask"),
                     ({"attention_mask": None, "cu_seq_lens_q": torch.zeros(2)}, "packed sequences"),
                     ({"attention_mask": None, "dropout": 0.1}, "dropout"),
                     ({"attention_mask": None, "output_attentions": True}, "never materialised")):
        with pytest.raises(ValueError, match=text):
            hf.attention_forward(torch.nn.Module(), q, q, q, **kw)
    from transformers import masking_utils as mu
    with pytest.raises(ValueError, match="keys must end at the last query"):
        hf.mask_interface(1, 1, 100, q_offset=5, kv_offset=0, mask_function=mu.causal_mask_function)
    with pytest.raises(ValueError, match="mask function"):
        hf.mask_interface(1, 4, 4, mask_function=mu.chunked_causal_mask_function(2, torch.zeros(1, dtype=torch.long)))
    with pytest.raises(ValueError, match="mask function"):
        hf.mask_interface(1, 4, 4, mask_function=mu.and_masks(mu.causal_mask_function, mu.causal_mask_function))
    assert hf.mask_interface(1, 1, 6, q_offset=5, mask_function=mu.causal_mask_function) is None
    # a sliding cache: 7 keys kept, the newest at the query's position
    assert hf.mask_interface(1, 1, 8, q_offset=20, kv_offset=13,
                             mask_function=mu.sliding_window_causal_mask_function(8), local_size=8) is None
    assert hf._mask_kind(mu.sliding_window_causal_mask_function(5)) == ("sliding", 5)


def test_layer_features_reach_the_kernels(patched, monkeypatch):
    """sliding_window -> window_size (sliding_window - 1, -1), softcap, s_aux (as float32 sinks)."""
    q = torch.randn(1, 4, 10, 8)
    k = torch.randn(1, 2, 10, 8)
    sinks = torch.randn(4, dtype=torch.bfloat16)
    patched.passes.append(("ptxfmha", []))  # a pass of no model: the direct call below
    out, _ = hf.attention_forward(torch.nn.Module(), q, k, k, None, scaling=0.3, sliding_window=4, softcap=20.0,
                                  s_aux=sinks)
    c = cpu_kernels.CALLS[-1][1]
    assert c["window"] == (3, -1) and c["softcap"] == 20.0 and c["sinks"] and c["causal"]
    want = ref_attention(q.transpose(1, 2), k.transpose(1, 2), k.transpose(1, 2), causal=True, softmax_scale=0.3,
                         window_size=(3, -1), softcap=20.0, sinks=sinks.float())
    assert torch.allclose(out, want, atol=1e-5)


def _compare_with(reference_impl, cfg_cls, log, seq=24, hybrid=True, **cfg_kw):
    """A tiny model of cfg_cls run with `reference_impl` and with ptxfmha (same weights, own
    configs): prefill logits and greedy tokens agree."""
    cfg = cfg_cls(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=LAYERS,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=256, **cfg_kw)
    ref, ours = model_pair(cfg, reference_impl, log)
    ids = torch.randint(3, 128, (2, seq), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = ref(ids).logits, ours(ids).logits
        assert torch.allclose(want, got, atol=1e-4, rtol=1e-4), (want - got).abs().max()
        kw = dict(max_new_tokens=8, min_new_tokens=8, do_sample=False, pad_token_id=0,
                  attention_mask=torch.ones_like(ids))
        assert torch.equal(ref.generate(ids, **kw), ours.generate(ids, **kw))
    assert routing_errors(log.take(), LAYERS, hybrid=hybrid) == []
    return [kw for op, kw in cpu_kernels.CALLS]


def test_mistral_sliding_window_matches_sdpa(patched):
    calls = _compare_with("sdpa", transformers.MistralConfig, patched, hybrid=False, sliding_window=8)
    assert calls and all(c["window"] == (7, -1) for c in calls), calls[:2]
    assert any(c["q_shape"][1] == 1 for c in calls)  # decode steps with the window too


def test_gemma2_softcap_matches_eager(patched):
    calls = _compare_with("eager", transformers.Gemma2Config, patched, attn_logit_softcapping=20.0,
                          final_logit_softcapping=None, sliding_window=8, query_pre_attn_scalar=16)
    assert {c["softcap"] for c in calls} == {20.0}
    assert {c["window"] for c in calls} == {(7, -1), (-1, -1)}  # sliding and full layers


def test_gpt_oss_sinks_match_eager(patched):
    calls = _compare_with("eager", transformers.GptOssConfig, patched, sliding_window=8, num_local_experts=4,
                          num_experts_per_tok=2)
    assert calls and all(c["sinks"] for c in calls)
    assert {c["window"] for c in calls} == {(7, -1), (-1, -1)}


@pytest.mark.parametrize("ref_impl,cfg_name,cfg_kw", [
    ("sdpa", "MistralConfig", dict(sliding_window=8)),
    ("eager", "Gemma2Config", dict(attn_logit_softcapping=20.0, final_logit_softcapping=None, sliding_window=8,
                                   query_pre_attn_scalar=16)),
    ("eager", "GptOssConfig", dict(sliding_window=8, num_local_experts=4, num_experts_per_tok=2)),
], ids=["mistral-window", "gemma2-softcap", "gpt-oss-sinks"])
def test_training_with_window_softcap_and_sinks_matches_the_reference(patched, ref_impl, cfg_name, cfg_kw):
    """loss.backward() through layers with a sliding window, softcap or sinks (ptxfmha::bwd with
    the features): every parameter's gradient (gpt-oss's sinks included, from d_sink) as the
    reference implementation's."""
    cfg = getattr(transformers, cfg_name)(vocab_size=128, hidden_size=64, intermediate_size=128,
                                          num_hidden_layers=LAYERS, num_attention_heads=4, num_key_value_heads=2,
                                          head_dim=16, max_position_embeddings=256, **cfg_kw)
    ref, ours = model_pair(cfg, ref_impl, patched)
    ids = torch.randint(3, 128, (2, 24), generator=torch.Generator().manual_seed(2))
    for m in (ref, ours):
        m(ids, labels=ids, use_cache=False).loss.backward()
    assert [op for op, _ in cpu_kernels.CALLS].count("bwd") == LAYERS
    names = {n for n, _ in ours.named_parameters()}
    assert cfg_name != "GptOssConfig" or any(n.endswith("self_attn.sinks") for n in names)
    for (name, want), (_, got) in zip(ref.named_parameters(), ours.named_parameters()):
        if want.grad is None:
            assert got.grad is None, name
            continue
        err = (got.grad - want.grad).abs().max().item()
        assert err <= 1e-4 * max(1.0, want.grad.abs().max().item()), (name, err)


def test_short_sequences_that_need_gradients_take_the_prefill_kernel(patched):
    """A forward of <= 8 tokens that autograd will differentiate goes to ptxfmha_attn (the
    decode kernel has no backward); the gradients reach the attention projections."""
    _, ours = tiny_models(patched)
    ids = torch.randint(3, 128, (2, 6), generator=torch.Generator().manual_seed(6))
    ours(ids, labels=ids).loss.backward()
    ops = [op for op, _ in cpu_kernels.CALLS]
    assert ops == ["attn"] * LAYERS + ["bwd"] * LAYERS, ops
    assert ours.model.layers[0].self_attn.q_proj.weight.grad is not None
    with torch.no_grad():
        ours(ids)
    assert [op for op, _ in cpu_kernels.CALLS][-LAYERS:] == ["decode_attn"] * LAYERS


def test_padded_training_matches_sdpa(patched):
    """loss.backward() on a right- and left-padded batch: the varlen forward and its backward
    (ptxfmha::bwd with the packed layouts); every parameter's gradient as sdpa's with the same
    mask (loss on the real tokens only)."""
    ref, ours = tiny_models(patched)
    ids = torch.randint(3, 128, (3, 20), generator=torch.Generator().manual_seed(7))
    mask = torch.ones(3, 20, dtype=torch.long)
    mask[1, 14:] = 0
    mask[2, :5] = 0
    labels = ids.masked_fill(mask == 0, -100)
    for m in (ref, ours):
        m(ids, attention_mask=mask, labels=labels, use_cache=False).loss.backward()
    bwd = [c for op, c in cpu_kernels.CALLS if op == "bwd"]
    assert len(bwd) == LAYERS and all(c["varlen_q"] and c["varlen_k"] for c in bwd), bwd
    for (name, want), (_, got) in zip(ref.named_parameters(), ours.named_parameters()):
        assert got.grad is not None, name
        err = (got.grad - want.grad).abs().max().item()
        assert err <= 1e-4 * max(1.0, want.grad.abs().max().item()), (name, err)
