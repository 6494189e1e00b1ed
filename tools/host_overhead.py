#!/usr/bin/env python3
"""Per-call host (CPU) cost of ptxfmha's Python path against PyTorch's SDPA.

Times N calls back to back without synchronising (the kernels are small, so the GPU keeps up
and the host clock measures what the host spends per call: argument checks, the custom op's
dispatch, the ctypes block, the library's own driver calls, the launch). Each row is the
median over `--reps` repetitions of N calls, in microseconds per call, wall clock and the
process's CPU time; the GPU is synchronised between repetitions (not timed).

Rows (GPU):
  fwd        ptxfmha.attention(q, k, v, causal=True)  vs  F.scaled_dot_product_attention on the
             [b, h, s, d] views (is_causal, enable_gqa), as transformers calls each
  fwd-nofp   ptxfmha.attention with the eager fast path off (PTXFMHA_NO_FAST_PATH's switch)
  fwd-op     torch.ops.ptxfmha.attn (the custom op, no public wrapper)
  fwd-impl   the op's implementation called directly (checks or plan, outputs, block, C call)
  fwd-C      the C entry point alone: ptxfmha_attn through ctypes on one prepared block
             (the library's checks, driver queries, tensor maps and the launch)
  ctypes     a no-op C call (ptxfmha_version): the floor of one ctypes call
  ctx        ptxfmha's device_context enter + exit (two driver queries)
  stream     the current-stream lookup the ops make per call
  torch-add  one small torch.add on the GPU: PyTorch's own per-launch floor
  drv-*      single driver calls the library makes per launch, through ctypes (minus the
             ctypes row = the driver's own cost): cuPointerGetAttribute (MEMORY_TYPE; the
             library probes each tensor's first and last byte: 2 x 4-5 tensors per forward),
             cuCtxGetCurrent, cuStreamIsCapturing (causal forward rows)
  hf         transformers' attention function: ptxfmha.hf.attention_forward vs
             sdpa_attention_forward on the [b, h, s, d] layer tensors (the layer's view)
  step       forward + backward (out.backward(g)) with q, k, v requiring grad, both
  bwd-op     torch.ops.ptxfmha.bwd alone
  decode     ptxfmha.attention_with_kvcache (1 query token, 1k cache, cache_seqlens)  vs
             SDPA of the [b, h, 1, d] query against the cache views

--cpu-stub: no GPU needed. CPU tensors go through the package's own Python layers with the
C library's launching entry points replaced by a stub that returns PTXFMHA_OK (the parameter
blocks still come from the real library's init functions) and the device context / stream
lookups stubbed: this times only the Python side (public function, dispatch, checks, the
ctypes block). SDPA rows are not printed there (on CPU it would compute).

  python tools/host_overhead.py                 # on the GPU machine (< 30 s)
  python tools/host_overhead.py --cpu-stub      # anywhere with PyTorch
Nothing is judged; the lead compares rows (ours - sdpa = what the Python path still costs).
"""

import argparse
import contextlib
import ctypes
import statistics
import sys
import time
from pathlib import Path


def _timeit(fn, iters, reps, sync):
    for _ in range(max(3, iters // 10)):
        fn()
    sync()
    walls, cpus = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(iters):
            fn()
        t1, c1 = time.perf_counter(), time.process_time()
        sync()
        walls.append((t1 - t0) / iters * 1e6)
        cpus.append((c1 - c0) / iters * 1e6)
    return min(walls), min(cpus)


class _StubLib:
    """The loaded library with its launching entry points replaced by `return 0`."""

    KEEP = ("_params_init", "version", "last_error", "status_string", "cubin_dir")

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        attr = getattr(self._real, name)
        if any(k in name for k in self.KEEP):
            return attr
        stub = _stub_entry
        self.__dict__[name] = stub
        return stub


def _stub_entry(*args):
    return 0


def _install_stub(ptxfmha, torch):
    from ptxfmha import _checks, _cuda, _lib, ops

    lib = _lib.load()
    _lib._lib = _StubLib(lib)
    getattr(_lib, "_entry_points", {}).clear()
    _checks.ACCEPTED_DEVICES = ("cuda", "cpu")
    ops._ordinal = lambda device: 0
    ops._stream = lambda device: None
    _cuda.device_context = ops.device_context = lambda ordinal: contextlib.nullcontext()
    if hasattr(ops, "EAGER_KERNELS"):  # the eager fast path: CPU tensors run the CUDA kernels' Python side
        ops.EAGER_KERNELS["cpu"] = ops.EAGER_KERNELS["cuda"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--cpu-stub", action="store_true", help="no GPU: time the Python layers with the C call stubbed")
    ap.add_argument("--seqlen", type=int, default=256)
    ap.add_argument("--only", default="", help="comma-separated row names")
    a = ap.parse_args()

    import torch
    import torch.nn.functional as F

    try:
        import ptxfmha
    except ImportError:  # the staged package of `make python`
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "build" / "python" / "pkg"))
        import ptxfmha

    stub = a.cpu_stub
    if stub:
        _install_stub(ptxfmha, torch)
        dev = "cpu"
        sync = lambda: None  # noqa: E731
    else:
        dev = "cuda"
        sync = torch.cuda.synchronize
    only = set(filter(None, a.only.split(",")))
    b, s, hq, hkv, d = 1, a.seqlen, 16, 4, 64
    bf = torch.bfloat16
    q = torch.randn(b, s, hq, d, device=dev, dtype=bf)
    k = torch.randn(b, s, hkv, d, device=dev, dtype=bf)
    v = torch.randn(b, s, hkv, d, device=dev, dtype=bf)
    rows = []

    def row(name, ours, theirs=None):
        if only and name not in only:
            return
        o = _timeit(ours, a.iters, a.reps, sync)
        t = _timeit(theirs, a.iters, a.reps, sync) if theirs is not None and not stub else None
        rows.append((name, o, t))
        tail = "" if t is None else f"   sdpa {t[0]:8.1f} {t[1]:8.1f}   ours-sdpa {o[0] - t[0]:+8.1f}"
        print(f"{name:13s} ours {o[0]:8.1f} {o[1]:8.1f}{tail}", flush=True)

    print(f"host cost per call, us (wall, cpu), best of {a.reps} x {a.iters} calls; "
          f"{'CPU stub (Python layers only)' if stub else torch.cuda.get_device_name()}; torch {torch.__version__}; "
          f"q [{b}, {s}, {hq}, {d}], kv heads {hkv}")
    qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
    scale = d ** -0.5
    row("fwd", lambda: ptxfmha.attention(q, k, v, causal=True),
        lambda: F.scaled_dot_product_attention(qt, kt, vt, is_causal=True, enable_gqa=True))
    row("fwd-op", lambda: torch.ops.ptxfmha.attn(q, k, v, None, None, None, None, 0, 0, True, scale, -1, -1, 0.0,
                                                 None, None, False, False))
    from ptxfmha import ops
    if hasattr(ops, "FAST_PATH"):
        def nofp():
            ops.FAST_PATH = False
            try:
                ptxfmha.attention(q, k, v, causal=True)
            finally:
                ops.FAST_PATH = True
        row("fwd-nofp", nofp)
        row("fwd-impl", lambda: ops._attn_kernel(q, k, v, None, None, None, None, 0, 0, True, scale, -1, -1, 0.0,
                                                 None, None, False, False))
    if not stub:
        from ptxfmha import _checks, _lib
        out = torch.empty_like(q)
        pr = _checks.attn_problem("host_overhead", q, k, v)
        params = _checks.attn_params(pr, q, k, v, out, None, None, None, None, None, True, scale, -1, -1, 0.0, None,
                                     None, torch.cuda.current_stream().cuda_stream)
        fn, ref = _lib.load().ptxfmha_attn, ctypes.byref(params)
        status = fn(ref)
        if status != 0:
            raise SystemExit(f"ptxfmha_attn failed ({status}): {_lib.last_error()}")
        row("fwd-C", lambda: fn(ref))
        ver = _lib.load().ptxfmha_version
        row("ctypes", lambda: ver())
        from ptxfmha._cuda import device_context

        def ctx():
            with device_context(0):
                pass
        row("ctx", ctx)
        row("stream", lambda: ops._stream(q.device))
        cuda = ctypes.CDLL("libcuda.so.1")
        u32, ptr = ctypes.c_uint(), ctypes.c_void_p()
        addr, stream = ctypes.c_uint64(q.data_ptr()), ctypes.c_void_p(ops._stream(q.device))
        row("drv-ptrattr", lambda: cuda.cuPointerGetAttribute(ctypes.byref(u32), 2, addr))  # 2: MEMORY_TYPE
        row("drv-ctx", lambda: cuda.cuCtxGetCurrent(ctypes.byref(ptr)))
        row("drv-capturing", lambda: cuda.cuStreamIsCapturing(stream, ctypes.byref(u32)))
        one = torch.ones(8, device=dev)
        row("torch-add", lambda: torch.add(one, one))
        try:
            from transformers.integrations.sdpa_attention import sdpa_attention_forward

            import ptxfmha.hf
        except ImportError:
            print("hf            (transformers not installed)")
        else:
            module = torch.nn.Module()
            module.is_causal, module.num_key_value_groups = True, hq // hkv
            row("hf", lambda: ptxfmha.hf.attention_forward(module, qt, kt, vt, None, scaling=scale),
                lambda: sdpa_attention_forward(module, qt, kt, vt, None, scaling=scale))

    qg, kg, vg = (x.clone().requires_grad_(True) for x in (q, k, v))
    qgt, kgt, vgt = (x.transpose(1, 2) for x in (qg, kg, vg))
    g = torch.randn_like(q)
    gt = g.transpose(1, 2)

    def ours_step():
        ptxfmha.attention(qg, kg, vg, causal=True).backward(g)

    def sdpa_step():
        F.scaled_dot_product_attention(qgt, kgt, vgt, is_causal=True, enable_gqa=True).backward(gt)
    row("step", ours_step, sdpa_step)
    out, lse = torch.ops.ptxfmha.attn(q, k, v, None, None, None, None, 0, 0, True, scale, -1, -1, 0.0, None, None,
                                      True, False)
    row("bwd-op", lambda: torch.ops.ptxfmha.bwd(g, q, k, v, out, lse, True, scale, False, -1, 0, 0.0, None, None))

    cache = 1024
    q1 = torch.randn(b, 1, hq, d, device=dev, dtype=bf)
    kc = torch.randn(b, cache, hkv, d, device=dev, dtype=bf)
    vc = torch.randn(b, cache, hkv, d, device=dev, dtype=bf)
    seqlens = torch.full((b,), cache, dtype=torch.int32, device=dev)
    q1t, kct, vct = (x.transpose(1, 2) for x in (q1, kc, vc))
    row("decode", lambda: ptxfmha.attention_with_kvcache(q1, kc, vc, cache_seqlens=seqlens),
        lambda: F.scaled_dot_product_attention(q1t, kct, vct, enable_gqa=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
