"""Hugging Face transformers integration: attn_implementation="ptxfmha".

    import ptxfmha.hf
    ptxfmha.hf.register()
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="ptxfmha", dtype=torch.bfloat16)

register() adds two entries under one name:
  * AttentionInterface["ptxfmha"] = attention_forward, called by the model's attention layers
    with query [b, hq, s, d], key/value [b, hkv, sk, d] (sdpa_attention_forward's signature);
    it returns (attn_output [b, s, hq, d], None). No copies on the unpadded path: the
    [b, h, s, d] tensors are passed to the kernels as strided views. What the layers pass on
    is used, not refused: `sliding_window` (window_size = (sliding_window - 1, ...), as
    transformers' flash-attention path counts it: a query sees itself and the
    sliding_window - 1 keys before it), `softcap` (Gemma 2) and `s_aux` / `sinks` (gpt-oss's
    attention sinks, taken as float32).
  * AttentionMaskInterface["ptxfmha"] = mask_interface, called once per forward (per mask kind)
    when the model builds its masks. Without it transformers builds NO mask for an unknown
    implementation and a padding mask would be dropped silently; mask_interface returns None
    for the masks the kernels compute themselves (causal, bidirectional, sliding-window causal:
    recognised by their mask function, the window then applied from the layer's
    sliding_window), the 2-D padding mask itself when the batch is padded (below), and raises
    for everything else: packed sequences, chunked windows, custom and/or mask functions,
    caches whose keys do not end at the last query (StaticCache).

Padding: a 2-D padding mask whose rows are each one contiguous run of real tokens (right
padding, or left padding; with a cache the run must end at the newest token, which left
padding does) is passed to attention_forward, which unpads q, k and v (cu_seqlens from the
mask), runs the variable-length entry point (attention_varlen: causal bottom-right per
sequence) and scatters the result back (padded query rows get zeros). The unpadding metadata
is computed once per mask (one host sync per forward pass, not per layer). Other padding
patterns (holes) are refused.

Why one causal flag covers prefill and generation: with transformers' DynamicCache the layer
gets the full keys of the sequence so far (past + new, sk = past + sq) and the queries are
the last sq positions, so the causal mask transformers would build (query at absolute position
past + i sees keys j <= past + i) is exactly the kernels' bottom-right alignment
(j <= i + sk - sq). Prefill is sq == sk; a decode step is sq == 1 (it sees every key). A
sliding layer's cache keeps the last sliding_window - 1 keys: they still end at the newest
query, so the same holds.

Queries of 1..8 tokens (decode steps, unpadded) go to the KV-cache kernel (ptxfmha_decode_attn,
split over the keys: the fast path for one token against a long cache) unless
register(decode_kernel=False); longer ones to the prefill kernel (ptxfmha_attn). Both read the
cache in place. Training: the prefill path is differentiable (ptxfmha_bwd) for causal /
bidirectional layers, with a sliding window, softcap or sinks (s_aux gets its gradient), and
for padded batches (the variable-length backward).

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
from .ops import attention, attention_varlen, attention_with_kvcache

NAME = "ptxfmha"
_settings = {"decode_kernel": True}
# The query dtypes attention_forward accepts: the kernels' (the CPU tests, whose stand-in
# kernels compute in float32, widen it).
KERNEL_DTYPES = _checks.ACCEPTED_DTYPES


def _refuse(what, detail):
    raise ArgumentError(f"ptxfmha (transformers attn_implementation): {what} is not supported: {detail}",
                        function="ptxfmha.hf.attention_forward")


# ---- padding -> variable length -------------------------------------------------------------

class _Unpadded:
    """Row indices and cu_seqlens of the real tokens of a [b, L] padding mask's last q_len (Q)
    and kv_len (K) columns."""

    def __init__(self, mask, q_len, kv_len):
        b = mask.shape[0]
        self.batch, self.q_len, self.kv_len = b, q_len, kv_len
        lens = []
        for side, n in (("q", q_len), ("k", kv_len)):
            m = mask[:, mask.shape[1] - n:]
            flat = torch.nonzero(m.reshape(-1)).reshape(-1)
            seqlens = m.sum(dim=1, dtype=torch.int32)
            cu = torch.zeros(b + 1, dtype=torch.int32, device=mask.device)
            cu[1:] = torch.cumsum(seqlens, 0, dtype=torch.int32)
            setattr(self, f"rows_{side}", (flat // n, flat % n))
            setattr(self, f"cu_{side}", cu)
            lens.append(seqlens)
        maxes = torch.stack([lens[0].max(), lens[1].max()]).tolist()  # the one host sync
        self.max_q, self.max_k = int(maxes[0]), int(maxes[1])


_unpad_cache = {"key": None, "value": None}


def _unpadded(mask, q_len, kv_len):
    """_Unpadded for this mask, computed once per mask object (every layer of a forward pass
    gets the same one; mask_interface makes a new one per forward). The cache holds the mask,
    so its identity cannot be reused while cached; in-place changes are caught by the version
    counter (inference tensors have none)."""
    key = (mask, None if mask.is_inference() else mask._version, q_len, kv_len)
    cached = _unpad_cache["key"]
    if cached is not None and cached[0] is mask and cached[1:] == key[1:]:
        return _unpad_cache["value"]
    value = _Unpadded(mask, q_len, kv_len)
    _unpad_cache["key"], _unpad_cache["value"] = key, value
    return value


def _padded_attention(q, k, v, mask, **kw):
    """q [b, sq, hq, d], k/v [b, sk, hkv, d] views; mask [b, sk] bool (True = real token, the
    last sq columns are the queries). Real rows through attention_varlen, zeros elsewhere."""
    b, sq, hq, d = q.shape
    sk = k.shape[1]
    if mask.shape != (b, sk):
        _refuse(f"a {tuple(mask.shape)} padding mask", f"expected [batch, kv_length] = [{b}, {sk}]")
    u = _unpadded(mask, sq, sk)
    qp = q[u.rows_q[0], u.rows_q[1]]      # [total_q, hq, d]
    kp = k[u.rows_k[0], u.rows_k[1]]      # [total_k, hkv, d]
    vp = v[u.rows_k[0], u.rows_k[1]]
    out = attention_varlen(qp, kp, vp, u.cu_q, u.cu_k, u.max_q, u.max_k, **kw)
    full = out.new_zeros(b, sq, hq, d)
    full[u.rows_q[0], u.rows_q[1]] = out
    return full


def _check_padding(mask, q_length, kv_length):
    """The padding patterns the varlen path reproduces exactly: each row one contiguous run of
    real tokens; with a cache (fewer queries than keys) the run ends at the last key."""
    m = mask.to(torch.bool).cpu()
    n = m.shape[1]
    count = m.sum(dim=1)
    pos = torch.arange(n)
    first = torch.where(m, pos, n).min(dim=1).values
    last = torch.where(m, pos, -1).max(dim=1).values
    holes = (count > 0) & (last - first + 1 != count)
    if bool(holes.any()):
        row = int(torch.nonzero(holes)[0])
        _refuse("a padding mask with holes",
                f"row {row} has real tokens in more than one run; ptxfmha takes one run of real tokens per row "
                "(left or right padding)")
    if q_length < kv_length:
        late = (count > 0) & (last != n - 1)
        if bool(late.any()):
            row = int(torch.nonzero(late)[0])
            _refuse("right padding with a cache",
                    f"row {row}'s real tokens end before the newest one; generate with left padding "
                    "(tokenizer.padding_side = 'left')")


# ---- attention ------------------------------------------------------------------------------

def attention_forward(module, query, key, value, attention_mask, dropout=0.0, scaling=None,
                      sliding_window=None, softcap=None, is_causal=None, **kwargs):
    """transformers attention function (sdpa_attention_forward's signature)."""
    dt = _checks.dtype_name(query)
    if dt not in KERNEL_DTYPES:
        _refuse(f"a {dt} model (query dtype {dt})",
                f"the kernels take {', '.join(KERNEL_DTYPES)}; load the model with dtype=torch.bfloat16 "
                f"(from_pretrained / from_config) or call model.to(torch.bfloat16), or use "
                f"attn_implementation=\"sdpa\" for a {dt} model")
    if dropout not in (0, 0.0, None):
        _refuse(f"dropout={dropout}", "attention dropout (call model.eval() for inference)")
    for name in ("cu_seq_lens_q", "cu_seq_lens_k", "cu_seqlens_q", "cu_seqlens_k"):
        if kwargs.get(name) is not None:
            _refuse(name, "packed sequences (position_ids restarting inside a row); pad the batch instead")
    if kwargs.get("output_attentions"):
        _refuse("output_attentions=True", "attention weights are never materialised")
    sinks = kwargs.get("s_aux")
    if sinks is None:
        sinks = kwargs.get("sinks")
    causal = bool(is_causal if is_causal is not None else getattr(module, "is_causal", True))
    window = (-1, -1)
    if sliding_window is not None:
        sw = int(sliding_window)
        window = (sw - 1, -1 if causal else sw - 1)
    features = dict(causal=causal, softmax_scale=scaling, window_size=window, softcap=softcap or 0.0, sinks=sinks)
    q = query.transpose(1, 2)   # [b, sq, hq, d] view
    k = key.transpose(1, 2)     # [b, sk, hkv, d] view
    v = value.transpose(1, 2)
    if attention_mask is not None:
        if not isinstance(attention_mask, torch.Tensor) or attention_mask.dim() != 2 \
                or attention_mask.dtype != torch.bool:
            _refuse("an attention mask other than a 2-D boolean padding mask",
                    f"got {getattr(attention_mask, 'shape', type(attention_mask).__name__)}; register() installs the "
                    "mask function that builds what ptxfmha takes")
        return _padded_attention(q, k, v, attention_mask, **features), None
    training = torch.is_grad_enabled() and any(t.requires_grad for t in (query, key, value))
    if _settings["decode_kernel"] and q.shape[1] <= _checks.DECODE_MAX_SEQLEN_Q and not training:
        out = attention_with_kvcache(q, k, v, **features)   # (the decode kernel has no backward)
    else:
        out = attention(q, k, v, **features)
    return out, None


# ---- masks ----------------------------------------------------------------------------------

def _as_int(x):
    return int(x.item()) if isinstance(x, torch.Tensor) else int(x)


def _mask_parts(fn):
    """The mask functions an and_masks() closure combines (recursively), or [fn]."""
    if getattr(fn, "__qualname__", "") == "and_masks.<locals>.and_mask" and fn.__closure__:
        for cell in fn.__closure__:
            parts = cell.cell_contents
            if isinstance(parts, tuple) and all(callable(p) for p in parts):
                return [q for p in parts for q in _mask_parts(p)]
    return [fn]


def _mask_kind(mask_function):
    """("causal" | "bidirectional", None) or ("sliding", window) for the mask functions the
    kernels compute themselves; None for anything else."""
    from transformers import masking_utils as mu

    if mask_function is mu.causal_mask_function:
        return "causal", None
    if mask_function is getattr(mu, "bidirectional_mask_function", None):
        return "bidirectional", None
    parts = _mask_parts(mask_function)
    if len(parts) == 2 and parts[1] is mu.causal_mask_function and \
            getattr(parts[0], "__qualname__", "") == "sliding_window_overlay.<locals>.inner_mask":
        cells = [c.cell_contents for c in (parts[0].__closure__ or ())]
        if len(cells) == 1 and isinstance(cells[0], int):
            return "sliding", cells[0]
    return None


def mask_interface(batch_size, q_length, kv_length, q_offset=None, kv_offset=0, mask_function=None,
                   attention_mask=None, **kwargs):
    """transformers mask function: None for the masks the kernels apply themselves, the 2-D
    padding mask (bool, its last kv_length columns) for a padded batch, else raises."""
    kind = _mask_kind(mask_function)
    if kind is None:
        _refuse(f"the mask function {getattr(mask_function, '__qualname__', mask_function)!r}",
                "only causal, bidirectional or sliding-window causal masks (no chunked windows, packed "
                "sequences, or custom and/or mask functions)")
    kind, window = kind
    if kind == "sliding" and kwargs.get("local_size") not in (None, window):
        _refuse(f"a sliding-window mask of {window} with local_size={kwargs.get('local_size')}", "they must agree")
    if kind == "bidirectional":
        config = kwargs.get("config")
        if config is not None and getattr(config, "is_causal", None) is False:
            _refuse("a decoder run bidirectionally (config.is_causal=False)",
                    "its attention layers may still pass is_causal=True")
    ko = _as_int(kv_offset)
    if kind in ("causal", "sliding"):
        # Position of the first query: q_offset (transformers 5.x), else cache_position[0]
        # (older releases); when neither is given the keys are taken to end at the last query.
        cache_position = kwargs.get("cache_position")
        if q_offset is not None:
            qo = _as_int(q_offset)
        elif isinstance(cache_position, torch.Tensor) and cache_position.numel():
            qo = _as_int(cache_position[0])
        else:
            qo = ko + kv_length - q_length
        if qo + q_length != ko + kv_length:
            _refuse(f"a cache layout with q_offset={qo}, kv_offset={ko}, q_length={q_length}, "
                    f"kv_length={kv_length}",
                    "the keys must end at the last query (DynamicCache and its sliding layers do; StaticCache "
                    "does not)")
    if attention_mask is None:
        return None
    if attention_mask.dim() != 2:
        _refuse(f"a {attention_mask.dim()}-D attention mask", "only a 2-D padding mask")
    mask = attention_mask[:, -kv_length:].to(torch.bool)
    if mask.shape[1] != kv_length:
        _refuse(f"a padding mask of {attention_mask.shape[1]} columns", f"the keys are {kv_length}")
    if bool(mask.all()):
        return None
    _check_padding(mask, q_length, kv_length)
    return mask


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
