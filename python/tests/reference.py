"""A PyTorch reference of the C ABI's attention semantics (ptxfmha.h, "Visibility" and "Scores
and softmax"): bottom-right causal / window per sequence, softcap after the scale, ALiBi
-slope * |d - j| after the softcap, sink logits in the denominator, rows that see no key
O = 0 and LSE = -inf (or the sink logit). Computed in float64 by default from the given
(bf16) inputs; differentiable, so float64 autograd of it is the backward's reference. Used by
the GPU tests (against the kernels) and by the CPU stand-in kernels (cpu_kernels.py). Needs
PyTorch to run; importable without it (the GPU tests are then reported skipped)."""

import concurrent.futures

try:
    import torch
except ImportError:
    torch = None


def visibility(sq, sk, *, causal=False, window=(-1, -1), len_k=None, batch=1, device=None):
    """The bool mask [batch, 1, sq, sk] of the keys each query row sees (ptxfmha.h
    "Visibility"): j < len_k(b), j >= d - left, j <= d + right with d = i + len_k(b) - sq,
    right = 0 when causal, -1 = unbounded. Also the explicit mask the GPU tests hand to SDPA."""
    lens = (torch.full((batch,), sk, dtype=torch.int64, device=device) if len_k is None
            else len_k.to(device=device, dtype=torch.int64).clamp(0, sk)).view(batch, 1, 1, 1)
    i = torch.arange(sq, device=device).view(1, 1, sq, 1)
    j = torch.arange(sk, device=device).view(1, 1, 1, sk)
    d = i + lens - sq
    left, right = window
    right = 0 if causal else right
    allowed = j < lens
    if left >= 0:
        allowed = allowed & (j >= d - left)
    if right >= 0:
        allowed = allowed & (j <= d + right)
    return allowed


def attention_ref(q, k, v, *, causal=False, scale=None, window=(-1, -1), softcap=0.0, sinks=None, alibi=None,
                  len_k=None, dtype=None):
    """q [b, sq, hq, d], k/v [b, sk, hkv, d]; len_k: optional int tensor [b], keys j < len_k[b]
    are present (and the diagonal is i + len_k[b] - sq). Returns O [b, sq, hq, d] and
    LSE [b, hq, sq] in `dtype` (default float64)."""
    dtype = dtype or torch.float64
    b, sq, hq, d = q.shape
    sk, hkv = k.shape[1], k.shape[2]
    scale = d ** -0.5 if scale is None else scale
    dev = q.device
    qd = q.to(dtype).transpose(1, 2)
    kd = k.to(dtype).transpose(1, 2).repeat_interleave(hq // hkv, dim=1)
    vd = v.to(dtype).transpose(1, 2).repeat_interleave(hq // hkv, dim=1)
    s = (qd @ kd.transpose(-1, -2)) * scale                                   # [b, hq, sq, sk]
    if softcap and softcap > 0:
        s = softcap * torch.tanh(s / softcap)
    if alibi is not None:
        lens = (torch.full((b,), sk, dtype=torch.int64, device=dev) if len_k is None
                else len_k.to(device=dev, dtype=torch.int64).clamp(0, sk)).view(b, 1, 1, 1)
        diag = torch.arange(sq, device=dev).view(1, 1, sq, 1) + lens - sq
        j = torch.arange(sk, device=dev).view(1, 1, 1, sk)
        s = s - alibi.to(device=dev, dtype=dtype).view(1, hq, 1, 1) * (diag - j).abs().to(dtype)
    allowed = visibility(sq, sk, causal=causal, window=window, len_k=len_k, batch=b, device=dev).expand(b, hq, sq, sk)
    live = allowed.any(-1, keepdim=True)                                      # rows that see a key
    if sinks is not None:
        live = torch.ones_like(live)
    # Rows without any term are computed on zeros and replaced after, so that no NaN reaches
    # autograd through the branch where() does not take.
    s = torch.where(live, s.masked_fill(~allowed, float("-inf")), torch.zeros((), dtype=dtype, device=dev))
    if sinks is not None:
        t = sinks.to(device=dev, dtype=dtype).view(1, hq, 1, 1).expand(b, hq, sq, 1)
        s_all = torch.cat([s, t], dim=-1)
    else:
        s_all = s
    lse = torch.logsumexp(s_all, dim=-1)                                      # [b, hq, sq]
    p = torch.exp(s - lse.unsqueeze(-1))
    o = p @ vd
    live3 = live.squeeze(-1)
    o = torch.where(live, o, torch.zeros((), dtype=dtype, device=dev))
    lse = torch.where(live3, lse, torch.full((), float("-inf"), dtype=dtype, device=dev))
    return o.transpose(1, 2), lse


def gather_pages(cache, block_table, n):
    """A paged cache [num_pages, page_size, h, d] read through block_table [b, max_blocks] as
    contiguous [b, n, h, d] (the first n keys of each sequence; ids outside the pool read as
    zeros, as the kernels do)."""
    pages, ps = cache.shape[0], cache.shape[1]
    blocks = (n + ps - 1) // ps
    ids = block_table[:, :blocks].long()
    ok = (ids >= 0) & (ids < pages)
    g = cache[ids.clamp(0, pages - 1)]                                        # [b, blocks, ps, h, d]
    g = torch.where(ok.view(*ok.shape, 1, 1, 1), g, torch.zeros((), dtype=cache.dtype, device=cache.device))
    return g.reshape(ids.shape[0], blocks * ps, *cache.shape[2:])[:, :n]


def varlen_ref(q, k, v, cu_q, cu_k=None, *, seqused_k=None, block_table=None, seqlen_k=None, **kw):
    """Packed q [total_q, hq, d] with cu_q [b + 1]; K/V packed with cu_k, or paged with
    block_table (seqlen_k keys at most); seqused_k [b] optional. One attention_ref call per
    sequence. Returns O [total_q, hq, d] and LSE [hq, total_q] (rows of no sequence: O 0,
    LSE -inf)."""
    cq = [int(x) for x in cu_q.tolist()]
    ck = [int(x) for x in cu_k.tolist()] if cu_k is not None else None
    used = [int(x) for x in seqused_k.tolist()] if seqused_k is not None else None
    dtype = kw.get("dtype") or torch.float64
    hq, d = q.shape[1], q.shape[2]
    o = torch.zeros(q.shape[0], hq, d, dtype=dtype, device=q.device)
    lse = torch.full((hq, q.shape[0]), float("-inf"), dtype=dtype, device=q.device)
    if block_table is not None:
        kp, vp = gather_pages(k, block_table, seqlen_k), gather_pages(v, block_table, seqlen_k)
    for b in range(len(cq) - 1):
        if cq[b + 1] == cq[b]:
            continue
        qb = q[cq[b]:cq[b + 1]].unsqueeze(0)
        if block_table is not None:
            kb, vb = kp[b:b + 1], vp[b:b + 1]
        else:
            kb, vb = k[ck[b]:ck[b + 1]].unsqueeze(0), v[ck[b]:ck[b + 1]].unsqueeze(0)
        n = kb.shape[1] if used is None else max(0, min(used[b], kb.shape[1]))
        ob, lb = attention_ref(qb, kb, vb, len_k=torch.tensor([n]), **kw)
        o[cq[b]:cq[b + 1]] = ob[0]
        lse[:, cq[b]:cq[b + 1]] = lb[0]
    return o, lse


def attention_bwd_ref(dout, q, k, v, *, causal=False, scale=None, dtype=None):
    """dQ, dK, dV of fixed-length attention (causal bottom-right or full, GQA: dK / dV summed
    over the query heads of a KV head) by the textbook formulas, in `dtype`, without autograd
    (usable inside a custom op's kernel): P = softmax(S), dV = P^T dO, dS = P * (dO V^T - D),
    D = rowsum(dO * O), dQ = scale dS K, dK = scale dS^T Q."""
    dtype = dtype or torch.float64
    b, sq, hq, d = q.shape
    sk, hkv = k.shape[1], k.shape[2]
    g = hq // hkv
    scale = d ** -0.5 if scale is None else scale
    o, lse = attention_ref(q, k, v, causal=causal, scale=scale, dtype=dtype)
    qd = q.to(dtype).transpose(1, 2)
    kd = k.to(dtype).transpose(1, 2).repeat_interleave(g, dim=1)
    vd = v.to(dtype).transpose(1, 2).repeat_interleave(g, dim=1)
    do = dout.to(dtype).transpose(1, 2)
    s = (qd @ kd.transpose(-1, -2)) * scale
    s = s.masked_fill(~visibility(sq, sk, causal=causal, device=q.device), float("-inf"))
    live = torch.isfinite(lse).unsqueeze(-1)
    p = torch.where(live, torch.exp(s - torch.where(live, lse.unsqueeze(-1), 0)), 0)
    dv = p.transpose(-1, -2) @ do
    dp = do @ vd.transpose(-1, -2)
    dsum = (do * o.transpose(1, 2)).sum(-1, keepdim=True)
    ds = p * (dp - dsum)
    dq = scale * ds @ kd
    dk = scale * ds.transpose(-1, -2) @ qd
    dk = dk.view(b, hkv, g, sk, d).sum(2)
    dv = dv.view(b, hkv, g, sk, d).sum(2)
    return dq.transpose(1, 2), dk.transpose(1, 2), dv.transpose(1, 2)


def attention_grads_ref(dout, q, k, v, *, sinks=None, dtype=None, **kw):
    """dQ, dK, dV and d sinks (None without sinks) of attention_ref (window / softcap / ALiBi /
    sinks as its keywords) by autograd in `dtype` (default float64) on copies of the inputs;
    usable inside a custom op's kernel: it runs on a fresh thread, whose dispatcher state has
    autograd on (a custom op's kernel runs with the autograd keys excluded on its own thread)."""
    dtype = dtype or torch.float64

    def grads():
        with torch.enable_grad():
            xs = [t.detach().to(dtype).requires_grad_() for t in (q, k, v)]
            s = None if sinks is None else sinks.detach().to(dtype).requires_grad_()
            o, _ = attention_ref(*xs, sinks=s, dtype=dtype, **kw)
            g = torch.autograd.grad(o, xs + ([s] if s is not None else []), dout.to(dtype))
        return (*g[:3], g[3] if s is not None else None)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(grads).result()


def varlen_grads_ref(dout, q, k, v, cu_q=None, cu_k=None, *, seqused_k=None, sinks=None, dtype=None, **kw):
    """dQ, dK, dV and d sinks (None without sinks) of variable-length attention, one
    fixed-length attention_grads_ref per sequence: q / dout packed [total_q, hq, d] with cu_q
    (or fixed [b, sq, hq, d]), k / v packed [total_k, hkv, d] with cu_k (or fixed [b, sk, hkv,
    d]); seqused_k [b] optional (keys of sequence b: its first seqused_k[b]). Rows of no
    sequence and keys past seqused_k get gradient 0; d sinks sums over the sequences."""
    dtype = dtype or torch.float64
    cq = [int(x) for x in cu_q.tolist()] if cu_q is not None else None
    ck = [int(x) for x in cu_k.tolist()] if cu_k is not None else None
    used = [int(x) for x in seqused_k.tolist()] if seqused_k is not None else None
    batch = len(cq) - 1 if cq is not None else q.shape[0]

    def rows(t, cu, b):
        return t[cu[b]:cu[b + 1]] if cu is not None else t[b]

    dq, dk, dv = (torch.zeros(t.shape, dtype=dtype, device=t.device) for t in (q, k, v))
    ds = None if sinks is None else torch.zeros(sinks.shape, dtype=dtype, device=sinks.device)
    for b in range(batch):
        qb, kb = rows(q, cq, b), rows(k, ck, b)
        n = kb.shape[0] if used is None else max(0, min(used[b], kb.shape[0]))
        if qb.shape[0] == 0 or n == 0:  # no rows, or no keys (out = 0 whatever q and the sinks are)
            continue
        g = attention_grads_ref(rows(dout, cq, b)[None], qb[None], kb[:n][None], rows(v, ck, b)[:n][None],
                                sinks=sinks, dtype=dtype, **kw)
        rows(dq, cq, b)[:] = g[0][0]
        rows(dk, ck, b)[:n] = g[1][0]
        rows(dv, ck, b)[:n] = g[2][0]
        if ds is not None:
            ds += g[3]
    return dq, dk, dv, ds


def dequantize(cache, scale):
    """An FP8 (e4m3) cache [n, s, heads_kv, d] (contiguous or paged) in float64 as ptxfmha.h
    defines it: K = scale[s] * k_e4m3 with one scale ([] / [1]) or one per KV head
    ([heads_kv], along dim 2)."""
    s = scale.to(device=cache.device, dtype=torch.float64).reshape(-1)
    return cache.to(torch.float64) * (s.view(1, 1, -1, 1) if s.numel() > 1 else s.view(()))
