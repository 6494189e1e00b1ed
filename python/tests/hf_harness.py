"""What the transformers checks share (test_torch_hf.py, test_gpu_hf.py, model_check.py,
test_torch_model_check.py): a log of forward passes and the ptxfmha kernel calls made in each,
the routing contract judged on it, and a float32 stand-in for the kernels (CPU tests)."""


class KernelLog:
    """Forward passes of the watched models (a forward pre-hook opens one) with the kernel
    calls made in each: [(model name, [(kernel, q shape, k shape, causal), ...]), ...].
    wrap() puts a kernel behind the log: ptxfmha.hf.attention -> "prefill",
    ptxfmha.hf.attention_with_kvcache -> "decode"."""

    def __init__(self):
        self.passes = []
        self._handles = []

    def watch(self, model, name):
        self._handles.append(model.register_forward_pre_hook(lambda *_: self.passes.append((name, []))))

    def wrap(self, kernel, fn):
        """ptxfmha.hf.attention -> "prefill", .attention_with_kvcache -> "decode",
        .attention_varlen -> "varlen" (padded batches)."""
        def run(q, k, v, *args, **kw):
            assert self.passes, f"a {kernel} kernel call outside any watched forward pass"
            self.passes[-1][1].append((kernel, tuple(q.shape), tuple(k.shape), kw.get("causal")))
            return fn(q, k, v, *args, **kw)
        return run

    def take(self):
        passes, self.passes = self.passes, []
        return passes

    def close(self):
        for h in self._handles:
            h.remove()
        self._handles.clear()


def routing_errors(passes, layers, decode_kernel=True, padded=False, hybrid=False):
    """What in `passes` breaks the routing contract of attn_implementation="ptxfmha": models
    other than "ptxfmha" make no kernel call; each pass of the ptxfmha model calls one kernel
    once per layer, every layer with the same shapes, causal; the decode kernel for passes of
    up to DECODE_MAX_SEQLEN_Q (8) new tokens (unless decode_kernel=False), the prefill kernel
    otherwise; the varlen kernel for every pass of a padded batch (padded=True). hybrid=True:
    models with sliding and full layers, whose caches hold different numbers of keys (only the
    key shapes may differ between layers)."""
    from ptxfmha._checks import DECODE_MAX_SEQLEN_Q as max_decode_tokens

    errors = []
    for i, (name, calls) in enumerate(passes):
        if name != "ptxfmha":
            if calls:
                errors.append(f"pass {i} of the {name} model made {len(calls)} ptxfmha calls")
            continue
        if not calls:
            errors.append(f"pass {i} of the ptxfmha model made no ptxfmha call")
            continue
        sq = calls[0][1][1]
        want = "varlen" if padded else "decode" if decode_kernel and sq <= max_decode_tokens else "prefill"
        same = (lambda c: c[:2] + c[3:]) if hybrid else (lambda c: c)
        if len(calls) != layers or any(same(c) != same(calls[0]) for c in calls) or calls[0][0] != want \
                or not calls[0][3]:
            errors.append(f"pass {i}: {calls}; expected {layers} identical causal calls to the {want} kernel")
    return errors


def routing_summary(passes):
    """"1 x 2048 tokens -> prefill, 63 x 1 token -> decode" for the ptxfmha model's passes."""
    runs = []
    for name, calls in passes:
        if name != "ptxfmha" or not calls:
            continue
        key = (calls[0][1][1], calls[0][0])
        if runs and runs[-1][0] == key:
            runs[-1][1] += 1
        else:
            runs.append([key, 1])
    return ", ".join(f"{n} x {t} token{'s' if t > 1 else ''} -> {k}" for (t, k), n in runs)


def ref_attention(q, k, v, causal=False, softmax_scale=None, window_size=(-1, -1), softcap=0.0, sinks=None,
                  alibi_slopes=None, **_):
    """The kernels' contract in float32 (reference.attention_ref): [b, s, h, d] in, [b, s, h, d]
    out in q's dtype; bottom-right causal, window, softcap, sinks, ALiBi; GQA by repetition.
    Needs PyTorch."""
    import torch

    from reference import attention_ref

    o, _ = attention_ref(q, k, v, causal=causal, scale=softmax_scale, window=window_size or (-1, -1),
                         softcap=softcap or 0.0, sinks=sinks, alibi=alibi_slopes, dtype=torch.float32)
    return o.contiguous().to(q.dtype)
