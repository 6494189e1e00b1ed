"""Hugging Face transformers integration: attn_implementation="ptxfmha".

    import ptxfmha.hf
    ptxfmha.hf.register()
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="ptxfmha", dtype=torch.bfloat16)

register() adds two entries under one name:
  * AttentionInterface["ptxfmha"] = attention_forward, called by the model's attention layers
    with query [b, hq, s, d], key/value [b, hkv, sk, d] (sdpa_attention_forward's signature);
    it returns (attn_output [b, s, hq, d], None). No copies: the [b, h, s, d] tensors are passed
    to the kernels as strided views.
  * AttentionMaskInterface["ptxfmha"] = mask_interface, called once per forward when the model
    builds its mask. Without it transformers builds NO mask for an unknown implementation and a
    padding mask would be dropped silently; mask_interface instead returns None for the masks
    the kernels compute themselves (plain causal or plain bidirectional, no padding) and raises
    for everything else: padding, packed sequences, sliding/chunked windows, custom mask
    functions, and caches whose keys do not end at the last query (StaticCache).

Why one causal flag covers prefill and generation: with transformers' DynamicCache the layer
gets the full keys of the sequence so far (past + new, sk = past + sq) and the queries are
the last sq positions, so the causal mask transformers would build (query at absolute position
past + i sees keys j <= past + i) is exactly the kernels' bottom-right alignment
(j <= i + sk - sq). Prefill is sq == sk; a decode step is sq == 1 (it sees every key).

Queries of 1..8 tokens (decode steps) go to the KV-cache kernel (ptxfmha_decode, split over the
keys: the fast path for one token against a long cache) unless register(decode_kernel=False);
longer ones to the prefill kernel (ptxfmha_fwd). Both read the cache in place.

Model dtype: the kernels take bfloat16 only. A model in another dtype (transformers builds
float32 unless told otherwise) is refused at its first forward with ValueError saying to load
it with dtype=torch.bfloat16 (or model.to(torch.bfloat16)), or to use attn_implementation="sdpa"
for it. There is deliberately no fallback to sdpa: a model that asked for ptxfmha and silently
ran something else would make every comparison and timing against it meaningless.

One config per model: transformers 5.x from_config(cfg, attn_implementation=NAME) writes NAME
into cfg itself (cfg._attn_implementation; it is not copied), and the attention layers read
it at every forward. Two models built from one config object therefore both run the
implementation named last. Give each model its own config (copy.deepcopy(cfg)) when comparing
ptxfmha with sdpa.
"""

import torch

from . import _checks
from .errors import ArgumentError
from .ops import attention, attention_with_kvcache

NAME = "ptxfmha"
_settings = {"decode_kernel": True}
# The query dtypes attention_forward accepts: the kernels' (the CPU tests, whose stand-in
# kernels compute in float32, widen it).
KERNEL_DTYPES = _checks.ACCEPTED_DTYPES


def _refuse(what, detail):
    raise ArgumentError(f"ptxfmha (transformers attn_implementation): {what} is not supported: {detail}",
                        function="ptxfmha.hf.attention_forward")


def attention_forward(module, query, key, value, attention_mask, dropout=0.0, scaling=None,
                      sliding_window=None, softcap=None, is_causal=None, **kwargs):
    """transformers attention function (sdpa_attention_forward's signature)."""
    dt = _checks.dtype_name(query)
    if dt not in KERNEL_DTYPES:
        _refuse(f"a {dt} model (query dtype {dt})",
                f"the kernels take {', '.join(KERNEL_DTYPES)}; load the model with dtype=torch.bfloat16 "
                f"(from_pretrained / from_config) or call model.to(torch.bfloat16), or use "
                f"attn_implementation=\"sdpa\" for a {dt} model")
    if attention_mask is not None:
        _refuse("an attention mask tensor",
                f"got {tuple(attention_mask.shape)}; ptxfmha computes plain causal / bidirectional attention "
                "itself (use a batch without padding; register() installs the mask function that says so "
                "earlier)")
    if dropout not in (0, 0.0, None):
        _refuse(f"dropout={dropout}", "attention dropout (call model.eval() for inference)")
    if sliding_window is not None:
        _refuse(f"sliding_window={sliding_window}", "sliding-window layers")
    if softcap not in (None, 0, 0.0):
        _refuse(f"softcap={softcap}", "logit soft-capping")
    for name in ("s_aux", "sinks"):
        if kwargs.get(name) is not None:
            _refuse(name, "attention sinks")
    for name in ("cu_seq_lens_q", "cu_seq_lens_k", "cu_seqlens_q", "cu_seqlens_k"):
        if kwargs.get(name) is not None:
            _refuse(name, "packed variable-length batches")
    if kwargs.get("output_attentions"):
        _refuse("output_attentions=True", "attention weights are never materialised")
    causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
    q = query.transpose(1, 2)   # [b, sq, hq, d] view
    k = key.transpose(1, 2)     # [b, sk, hkv, d] view
    v = value.transpose(1, 2)
    if _settings["decode_kernel"] and q.shape[1] <= _checks.DECODE_MAX_SEQLEN_Q:
        out = attention_with_kvcache(q, k, v, causal=bool(causal), softmax_scale=scaling)
    else:
        out = attention(q, k, v, causal=bool(causal), softmax_scale=scaling)
    return out, None


def _as_int(x):
    return int(x.item()) if isinstance(x, torch.Tensor) else int(x)


def mask_interface(batch_size, q_length, kv_length, q_offset=None, kv_offset=0, mask_function=None,
                   attention_mask=None, **kwargs):
    """transformers mask function: None for the masks the kernels apply themselves, else raises."""
    from transformers import masking_utils as mu

    if mask_function is mu.causal_mask_function:
        kind = "causal"
    elif mask_function is getattr(mu, "bidirectional_mask_function", None):
        kind = "bidirectional"
        config = kwargs.get("config")
        if config is not None and getattr(config, "is_causal", None) is False:
            _refuse("a decoder run bidirectionally (config.is_causal=False)",
                    "its attention layers may still pass is_causal=True")
    else:
        _refuse(f"the mask function {getattr(mask_function, '__name__', mask_function)!r}",
                "only plain causal or bidirectional masks (no sliding/chunked windows, packed sequences, "
                "or custom and/or mask functions)")
    if attention_mask is not None:
        if attention_mask.dim() != 2:
            _refuse(f"a {attention_mask.dim()}-D attention mask", "only a 2-D padding mask of ones")
        if not bool(attention_mask.all()):
            _refuse("padding (attention_mask with zeros)",
                    "run unpadded batches (one prompt, or prompts of equal length)")
    if kind == "causal":
        # Position of the first query: q_offset (transformers 5.x), else cache_position[0]
        # (older releases); when neither is given nothing can be checked beyond kv_offset.
        cache_position = kwargs.get("cache_position")
        if q_offset is not None:
            qo = _as_int(q_offset)
        elif isinstance(cache_position, torch.Tensor) and cache_position.numel():
            qo = _as_int(cache_position[0])
        else:
            qo = kv_length - q_length
        ko = _as_int(kv_offset)
        if ko != 0 or qo + q_length != kv_length:
            _refuse(f"a cache layout with q_offset={qo}, kv_offset={ko}, q_length={q_length}, "
                    f"kv_length={kv_length}",
                    "the keys must end at the last query (DynamicCache does; StaticCache and sliding "
                    "caches do not)")
    return None


def register(name=NAME, decode_kernel=True):
    """Registers attention_forward and mask_interface with transformers under `name`;
    decode_kernel=False sends decode steps to the prefill kernel too."""
    try:
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface
    except ImportError as e:
        raise ImportError(f"ptxfmha.hf.register needs transformers with AttentionInterface "
                          f"and AttentionMaskInterface (5.x): {e}") from e
    _settings["decode_kernel"] = bool(decode_kernel)
    AttentionInterface.register(name, attention_forward)
    AttentionMaskInterface.register(name, mask_interface)
    return name
