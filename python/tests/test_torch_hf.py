"""attn_implementation="ptxfmha" inside transformers, on the CPU, with the kernels replaced by a
float32 reference (needs PyTorch and transformers; no GPU).

This pins down what the integration relies on, independent of the kernels: transformers calls
our mask function and our attention function with the layouts and lengths we expect; with a
DynamicCache every call is bottom-right causal attention of the new queries over all keys so
far (so a reference that knows nothing of the cache reproduces sdpa's logits and greedy tokens
exactly); decode steps go to the KV-cache entry point; what is not supported (padding,
dropout, windows, attention masks, static caches) raises ValueError instead of being
ignored."""

import pytest

from conftest import have_module

_missing = [m for m in ("torch", "transformers") if not have_module(m)]
pytestmark = pytest.mark.skipif(bool(_missing), reason=f"{' and '.join(_missing)} not installed")

if not _missing:
    import torch
    import transformers

    import ptxfmha.hf as hf


def ref_attention(q, k, v, causal=False, softmax_scale=None, **_):
    """[b, s, h, d] in, [b, s, h, d] out; bottom-right causal; GQA by repetition; float32."""
    b, sq, hq, d = q.shape
    sk, hkv = k.shape[1], k.shape[2]
    qt = q.transpose(1, 2).float()
    kt = k.transpose(1, 2).float().repeat_interleave(hq // hkv, dim=1)
    vt = v.transpose(1, 2).float().repeat_interleave(hq // hkv, dim=1)
    mask = None
    if causal:
        i = torch.arange(sq).view(sq, 1)
        j = torch.arange(sk).view(1, sk)
        mask = j <= i + sk - sq
    o = torch.nn.functional.scaled_dot_product_attention(qt, kt, vt, attn_mask=mask, scale=softmax_scale)
    return o.transpose(1, 2).contiguous().to(q.dtype)


class Spy:
    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, q, k, v, **kw):
        self.calls.append((tuple(q.shape), tuple(k.shape), k.is_contiguous(), kw.get("causal")))
        return self.fn(q, k, v, **kw)


@pytest.fixture()
def patched(monkeypatch):
    prefill, decode = Spy(ref_attention), Spy(ref_attention)
    monkeypatch.setattr(hf, "attention", prefill)
    monkeypatch.setattr(hf, "attention_with_kvcache", decode)
    hf.register()
    return prefill, decode


def tiny_models(**extra):
    cfg = transformers.LlamaConfig(vocab_size=128, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                                   max_position_embeddings=256, **extra)
    torch.manual_seed(0)
    ref = transformers.AutoModelForCausalLM.from_config(cfg, attn_implementation="sdpa").eval()
    ours = transformers.AutoModelForCausalLM.from_config(cfg, attn_implementation="ptxfmha").eval()
    ours.load_state_dict(ref.state_dict())
    return ref, ours


def test_register_makes_the_name_valid():
    name = hf.register()
    assert name == "ptxfmha"
    assert transformers.AttentionInterface()["ptxfmha"] is hf.attention_forward


def test_prefill_logits_and_greedy_generation_match_sdpa(patched):
    prefill, decode = patched
    ref, ours = tiny_models()
    ids = torch.randint(3, 128, (2, 24), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = ref(ids).logits, ours(ids).logits
        assert torch.allclose(want, got, atol=1e-5, rtol=1e-4), (want - got).abs().max()
        assert prefill.calls and all(c[0][1] == c[1][1] == 24 and c[3] for c in prefill.calls)
        prefill.calls.clear()
        kw = dict(max_new_tokens=12, min_new_tokens=12, do_sample=False, pad_token_id=0,
                  attention_mask=torch.ones_like(ids))
        t_ref = ref.generate(ids, **kw)
        t_ours = ours.generate(ids, **kw)
    assert torch.equal(t_ref, t_ours)
    assert len(prefill.calls) == 2 and len(decode.calls) == 2 * 11  # 2 layers: 1 prefill + 11 decode steps
    for step, (qs, ks, _, causal) in enumerate(decode.calls[::2]):
        assert qs[1] == 1 and ks[1] == 24 + 1 + step and causal


def test_decode_kernel_off_sends_decode_steps_to_prefill(patched):
    prefill, decode = patched
    hf.register(decode_kernel=False)
    try:
        ref, ours = tiny_models()
        ids = torch.randint(3, 128, (1, 10), generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            kw = dict(max_new_tokens=5, min_new_tokens=5, do_sample=False, pad_token_id=0,
                      attention_mask=torch.ones_like(ids))
            assert torch.equal(ref.generate(ids, **kw), ours.generate(ids, **kw))
        assert not decode.calls and len(prefill.calls) == 2 * 5
    finally:
        hf.register()


def test_padding_mask_is_refused(patched):
    _, ours = tiny_models()
    ids = torch.randint(0, 128, (2, 8))
    mask = torch.ones(2, 8, dtype=torch.long)
    mask[1, :3] = 0
    with torch.no_grad(), pytest.raises(ValueError, match="padding"):
        ours(ids, attention_mask=mask)
    with torch.no_grad():
        ours(ids, attention_mask=torch.ones(2, 8, dtype=torch.long))  # all ones: fine


def test_dropout_in_training_is_refused(patched):
    _, ours = tiny_models(attention_dropout=0.1)
    ours.train()
    with pytest.raises(ValueError, match="dropout"):
        ours(torch.randint(0, 128, (1, 8)))


def test_direct_refusals():
    q = torch.zeros(1, 2, 4, 8)
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
