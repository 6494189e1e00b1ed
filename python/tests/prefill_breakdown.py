"""model_check.py --breakdown: where a model's prefill time goes, for one attention
implementation at a time, so a slower ptxfmha prefill can be pinned on the attention kernel or
on what surrounds it (the Python path per layer: argument checks, the ctypes block, the custom
op's dispatch; layout copies; launch gaps).

For one forward of `model` on `ids` (use_cache=False, last-token logits) it measures:
  forward      CUDA events around the whole forward (median of `iters`)
  attention    CUDA events around each call of the model's attention function
               (transformers' ALL_ATTENTION_FUNCTIONS entry: for ptxfmha the layout views, the
               checks, the ctypes call and the kernel; for sdpa transformers' sdpa_attention_forward),
               summed per forward (median), and the host (CPU) time spent inside those calls
  kernels      torch.profiler (CUPTI) over one more forward: GPU time of every kernel, the
               attention kernels (names with fmha / flash / attention / sdpa / cudnn) apart, the
               sum against the forward's time (the rest is idle GPU: launch or host gaps), and
               for each attention call shape the kernel names it ran (ptxfmha's own kernels are
               named fmha_<kind>_d<head_dim>_<arch>, so this says which kernel was picked)
It returns printable lines; nothing is judged."""

import statistics
import time


def _mark(torch, cuda):
    """A time mark on the current stream (CUDA event) or the host clock (the CPU test)."""
    if not cuda:
        return time.perf_counter()
    e = torch.cuda.Event(enable_timing=True)
    e.record()
    return e


def _ms(a, b):
    return a.elapsed_time(b) if hasattr(a, "elapsed_time") else (b - a) * 1e3

ATTN_KERNEL_WORDS = ("fmha", "flash", "attention", "attn", "sdpa", "cudnn")


def _median_ms(xs):
    return statistics.median(xs) if xs else float("nan")


class _AttentionTimer:
    """Wraps ALL_ATTENTION_FUNCTIONS[name] (a local override, removed by close()) with CUDA
    events and a host clock; records the q / k shapes of each call."""

    def __init__(self, torch, name, cuda):
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

        self.torch, self.name, self.table, self.cuda = torch, name, ALL_ATTENTION_FUNCTIONS, cuda
        self.had_local = name in ALL_ATTENTION_FUNCTIONS._local_mapping
        self.inner = ALL_ATTENTION_FUNCTIONS[name]
        self.events, self.host_s, self.shapes = [], 0.0, []
        ALL_ATTENTION_FUNCTIONS[name] = self._run

    def _run(self, module, query, key, value, *args, **kw):
        t0 = time.perf_counter()
        a = _mark(self.torch, self.cuda)
        out = self.inner(module, query, key, value, *args, **kw)
        b = _mark(self.torch, self.cuda)
        self.host_s += time.perf_counter() - t0
        self.events.append((a, b))
        self.shapes.append((tuple(query.shape), tuple(key.shape)))
        return out

    def take(self):
        """(GPU ms inside the attention calls, host ms inside them, calls) since the last take."""
        if self.cuda:
            self.torch.cuda.synchronize()
        gpu = sum(_ms(a, b) for a, b in self.events)
        host, n = self.host_s * 1e3, len(self.events)
        self.events, self.host_s = [], 0.0
        return gpu, host, n

    def close(self):
        if self.had_local:
            self.table[self.name] = self.inner
        else:
            del self.table[self.name]


def breakdown(torch, model, ids, iters, label):
    impl = model.config._attn_implementation
    cuda = ids.device.type == "cuda"
    run = lambda: model(ids, use_cache=False, logits_to_keep=1)  # noqa: E731
    timer = _AttentionTimer(torch, impl, cuda)
    fwd, attn_gpu, attn_host = [], [], []
    try:
        with torch.inference_mode():
            for _ in range(3):
                run()
            timer.take()
            for _ in range(iters):
                a = _mark(torch, cuda)
                run()
                b = _mark(torch, cuda)
                g, h, calls = timer.take()
                fwd.append(_ms(a, b))
                attn_gpu.append(g)
                attn_host.append(h)
            shapes = sorted(set(timer.shapes))
            timer.shapes = []
            kern = _profile(torch, run, cuda)
    finally:
        timer.close()
    f, ag, ah = _median_ms(fwd), _median_ms(attn_gpu), _median_ms(attn_host)
    lines = [f"  breakdown {label} (attn_implementation={impl!r}, median of {iters}): forward {f:.3f} ms; "
             f"inside the {calls} attention calls {ag:.3f} ms GPU-timed ({100 * ag / f:.1f}%), "
             f"{ah:.3f} ms host time ({ah / max(calls, 1) * 1e3:.0f} us per call); outside them {f - ag:.3f} ms"]
    lines += [f"    {line}" for line in kern]
    lines.append(f"    attention call shapes (q [b, h, s, d], k): {', '.join(f'{q} / {k}' for q, k in shapes)}")
    return lines


def _profile(torch, run, cuda):
    """Kernel GPU times of one forward (torch.profiler, CUDA activity; on the CPU test the
    top-level CPU ops instead)."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    if cuda:
        torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA if cuda else ProfilerActivity.CPU]) as prof:
        a = _mark(torch, cuda)
        run()
        b = _mark(torch, cuda)
        if cuda:
            torch.cuda.synchronize()
    span = _ms(a, b)
    per_name = {}
    for e in prof.events():
        # kernels (and memcpy / memset) on the GPU; top-level ops on the CPU test
        if e.device_type != (DeviceType.CUDA if cuda else DeviceType.CPU) or (not cuda and e.cpu_parent is not None):
            continue
        n, t = per_name.get(e.name, (0, 0.0))
        per_name[e.name] = (n + 1, t + e.time_range.elapsed_us() / 1e3)
    total = sum(t for _, t in per_name.values())
    attn = {k: v for k, v in per_name.items() if any(w in k.lower() for w in ATTN_KERNEL_WORDS)}
    attn_t = sum(t for _, t in attn.values())
    lines = [f"kernels (profiler, one forward of {span:.3f} ms): all {total:.3f} ms GPU, attention kernels "
             f"{attn_t:.3f} ms, GPU idle / overlap {span - total:.3f} ms"]
    for k, (n, t) in sorted(attn.items(), key=lambda kv: -kv[1][1]):
        lines.append(f"attention kernel {k[:90]}: {n} launches, {t:.3f} ms ({t / n * 1e3:.0f} us each)")
    others = sorted(((k, v) for k, v in per_name.items() if k not in attn), key=lambda kv: -kv[1][1])[:6]
    lines.append("top other kernels: " + "; ".join(f"{k[:60]} x{n} {t:.3f} ms" for k, (n, t) in others))
    return lines


def attention_alone(torch, ptx_attention, q_shape, k_shape, iters):
    """One layer's attention on its own, CUDA events (host clock on the CPU test), median of
    `iters` after 3 warm-ups, causal, bf16, for the model's q [b, hq, s, d] / k [b, hkv, s, d]:
    ptxfmha on the [b, s, h, d] views of [b, h, s, d] tensors (what the model passes), ptxfmha on
    contiguous [b, s, h, d] tensors (what a layout copy would give), and
    F.scaled_dot_product_attention (enable_gqa) on the [b, h, s, d] tensors. A layout effect
    shows as the first two differing; a kernel effect as both against SDPA."""
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    cuda = dev == "cuda"
    dtype = torch.bfloat16
    g = torch.Generator(device=dev).manual_seed(0)
    q, k, v = (torch.randn(s, generator=g, device=dev).to(dtype) for s in (q_shape, k_shape, k_shape))
    views = tuple(t.transpose(1, 2) for t in (q, k, v))
    contig = tuple(t.contiguous() for t in views)
    sdpa = torch.nn.functional.scaled_dot_product_attention
    cases = (("ptxfmha, [b,s,h,d] views of [b,h,s,d] (the model's)", lambda: ptx_attention(*views, causal=True)),
             ("ptxfmha, contiguous [b,s,h,d]", lambda: ptx_attention(*contig, causal=True)),
             ("F.scaled_dot_product_attention [b,h,s,d]", lambda: sdpa(q, k, v, is_causal=True, enable_gqa=True)))
    out = []
    with torch.inference_mode():
        for label, fn in cases:
            for _ in range(3):
                fn()
            times = []
            for _ in range(iters):
                a = _mark(torch, cuda)
                fn()
                b = _mark(torch, cuda)
                if cuda:
                    b.synchronize()
                times.append(_ms(a, b))
            out.append(f"    attention alone, q {tuple(q_shape)} k {tuple(k_shape)} causal: {label}: "
                       f"{_median_ms(times):.3f} ms")
    return out
