#!/usr/bin/env python3
"""Model-level check: a random-initialised Llama run with attn_implementation="sdpa" and "ptxfmha".

    PYTHONPATH=build/python/pkg python3 python/tests/model_check.py     # GPU, PyTorch, transformers

(--device cpu --tiny is for test_torch_model_check.py only: this script on the CPU, a small
model, the kernels replaced by a reference; it checks the script, not the kernels.)

Model: LlamaConfig with 4 layers, hidden 1024, 16 query / 4 KV heads, head dim 64, intermediate
2816, vocabulary 32000, bf16, weights from torch.manual_seed(seed) (no download), the same
weights in both models (and in a float32 copy run with sdpa as the reference). Each model has
its own config object: transformers 5.x from_config writes attn_implementation into the config
it is given, so models sharing one would all run the implementation named last. Offline; about
a minute on an H200. Prints one summary block and exits 0 when every criterion holds, 1 if not.

Routing (judged too): every forward pass is recorded with the ptxfmha kernel calls made in it.
The sdpa and float32 models never call ptxfmha; each pass of the ptxfmha model calls one
kernel once per layer: the prefill kernel (ptxfmha_fwd) for the prompt, the decode kernel
(ptxfmha_decode) for each decode step, the prefill kernel for those too with decode_kernel=False.

Checks, with the tolerances (bf16 attention against bf16 attention, both rounding O to bf16):
  1. logits of a 2048-token prompt, ptxfmha vs sdpa: rel. L2 <= 2e-2 and argmax agreement
     >= 97% of positions; against the float32 model ptxfmha's rel. L2 is at most
     1.25x sdpa's + 1e-3 (ptxfmha adds no error of its own beyond bf16 noise) and its argmax
     agreement with float32 at most 1 point below sdpa's.
     Also reported: at how many prompt positions attention decides the argmax (the sdpa model's
     argmax changes when every layer's attention output is replaced by zeros).
  2. greedy generation of 64 tokens after that prompt (model.generate, DynamicCache; decode
     steps through ptxfmha_decode, and again with decode_kernel=False through ptxfmha_fwd):
     the same 64 tokens as sdpa, or a first divergence at a near-tie. The bf16 noise of the
     logits at step i is measured without ptxfmha: max |sdpa logits - float32-model logits|
     with the same context (the float32 model teacher-forced on sdpa's tokens), printed with
     sdpa's top-1/top-2 margin for every step. A divergence at step i (contexts equal up to it)
     is a near-tie when sdpa's margin there is at most TIE_FACTOR (3) x that noise: sdpa's own
     choice is then not determined at bf16 precision (a flip needs ptxfmha's logits to move by
     at least margin / 2 against sdpa's). It fails when the margin is clearly above the noise
     (> 3 x) or when the teacher-forced check (3) fails. Reported there: the margin, the noise,
     their ratio, ptxfmha's own max |diff| and rel. L2 against sdpa at that step, and the float32
     model's pick.
  3. teacher-forced decode: sdpa's 64 tokens fed one by one to both models through a
     DynamicCache: per-step logits rel. L2 <= 2e-2, argmax agreement >= 62 of 64 steps.
  4. prefill time of an 8192-token prompt (batch 1, use_cache=False, last-token logits), both
     implementations: CUDA events, 3 warm-ups, median of 10, and the ratio (reported, not
     judged). --breakdown adds, per implementation, the time inside the attention calls against
     the whole forward (CUDA events), the host time per call, and a profiler view of the kernels
     (which ptxfmha kernel each layer shape ran, the attention kernels' GPU time, idle GPU time):
     prefill_breakdown.py.

Logits: random initialisation makes them nearly flat (std ~0.64 over 32000 tokens, the top-1 only
~4 standard deviations above the mean), so top-2 margins of 1e-3..1e-2 are common and bf16
rounding decides such steps: measured on the CPU over 256 prompt positions (float32 vs bf16 sdpa,
this model): 40% of positions have a margin under 2 x the bf16 noise, 3.5% flip their argmax.
Neither a larger initializer_range (0.05: 80% / 11% flips; 0.1: 95% / 22%) nor a larger lm_head
scale helps (margin and noise scale together). --peaked E makes the logits peaked the way a
trained model's are: the token embeddings are scaled by E and a random bigram table is added to
lm_head (row perm[v] += e_v at the lm_head rows' norm), so each token's bigram partner stands out
(E = 10: top-1 ~7.6 standard deviations, 0.4% of positions under 2 x noise, no flips) - but then
attention decides the argmax at only ~0.4% of positions (measured the same way), so equal greedy
tokens say little about attention. The default (E = 0) keeps the plain random model, where
attention decides nearly every argmax and the near-tie rule above judges the divergences.
  5. a training step: next-token cross-entropy of 2 x 512 random tokens, loss.backward() through
     each model (ptxfmha: ptxfmha_bwd). The gradients of the attention projections (q_proj,
     k_proj, v_proj, o_proj weights of every layer: dW = X^T dQ etc., so they carry the
     attention inputs' gradients) concatenated: finite; ptxfmha vs sdpa rel. L2 <= 3e-2; against
     the float32 model ptxfmha's rel. L2 at most 1.25x sdpa's + 1e-3; the losses agree to 1e-2
     relative. Per projection kind the worst rel. L2 vs sdpa is reported.
"""

import argparse
import copy
import statistics
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hf_harness import KernelLog, routing_errors, routing_summary  # noqa: E402


TIE_FACTOR = 3.0  # a divergence at sdpa margin <= TIE_FACTOR x the bf16 noise of the logits is a near-tie


def divergence_verdict(margin, noise, teacher_ok):
    """(ok, words) for a greedy divergence where sdpa's top-2 margin is `margin` and the bf16
    noise of the logits (max |sdpa - float32|) is `noise`: a near-tie when margin <= TIE_FACTOR x
    noise, and then ok only if the teacher-forced check passed."""
    tie = margin <= TIE_FACTOR * noise
    words = (f"near-tie: margin <= {TIE_FACTOR:g} x bf16 noise" if tie else
             f"NOT a near-tie: margin > {TIE_FACTOR:g} x bf16 noise")
    return tie and teacher_ok, words + ("" if teacher_ok else "; the teacher-forced check failed")


def rel_l2(a, b):
    return ((a - b).float().norm() / b.float().norm()).item()


def make_peaked(torch, model, scale, seed):
    """Peaked logits (--peaked): token embeddings x scale, and a random bigram table added to
    lm_head: row perm[v] += e_v, rescaled to the mean norm of lm_head's rows, so the hidden
    state, which carries the current token's embedding, gives its bigram partner a logit far
    above the rest (untied lm_head: Llama's default)."""
    g = torch.Generator().manual_seed(seed + 7)
    with torch.no_grad():
        emb, head = model.model.embed_tokens.weight, model.lm_head.weight
        assert emb.data_ptr() != head.data_ptr(), "tied embeddings: --peaked needs a separate lm_head"
        emb.mul_(scale)
        perm = torch.randperm(emb.shape[0], generator=g).to(emb.device)
        table = torch.empty_like(emb)
        table[perm] = emb
        head.add_(table * (head.float().norm(dim=1).mean() / emb.float().norm(dim=1).mean()).to(head.dtype))


def attention_off(torch, model):
    """Forward hooks that replace every layer's attention output by zeros (removed by the
    returned handles' remove())."""
    def zero(_module, _inputs, out):
        return (torch.zeros_like(out[0]),) + tuple(out[1:])
    return [layer.self_attn.register_forward_hook(zero) for layer in model.model.layers]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prompt", type=int, default=2048)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--prefill", type=int, default=8192)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--train-tokens", type=int, default=512, help="tokens per sequence of the training step (batch 2)")
    ap.add_argument("--device", default="cuda", help="cpu: only with the kernels replaced (the script's CPU test)")
    ap.add_argument("--tiny", action="store_true", help="2 layers, hidden 256, vocabulary 512 (the script's CPU test)")
    ap.add_argument("--peaked", type=float, default=0.0, metavar="E",
                    help="peaked logits: token embeddings x E plus a random bigram table in lm_head (0 = off)")
    ap.add_argument("--breakdown", action="store_true",
                    help="prefill time inside the attention calls vs the whole forward, host time per call, "
                         "kernels picked (prefill_breakdown.py)")
    args = ap.parse_args(argv)
    t_start = time.time()

    import torch
    import transformers
    from transformers import AutoModelForCausalLM, DynamicCache, LlamaConfig

    import ptxfmha
    import ptxfmha.hf

    ptxfmha.hf.register()
    dev = torch.device(args.device)
    if args.tiny:
        cfg = LlamaConfig(vocab_size=512, hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, head_dim=64,
                          max_position_embeddings=4096, attention_dropout=0.0)
    else:
        cfg = LlamaConfig(vocab_size=32000, hidden_size=1024, intermediate_size=2816, num_hidden_layers=4,
                          num_attention_heads=16, num_key_value_heads=4, head_dim=64,
                          max_position_embeddings=16384, attention_dropout=0.0)
    torch.manual_seed(args.seed)
    with dev:
        sdpa = AutoModelForCausalLM.from_config(copy.deepcopy(cfg), attn_implementation="sdpa",
                                                dtype=torch.bfloat16).eval()
        ptx = AutoModelForCausalLM.from_config(copy.deepcopy(cfg), attn_implementation="ptxfmha",
                                               dtype=torch.bfloat16).eval()
    if args.peaked:
        make_peaked(torch, sdpa, args.peaked, args.seed)
    ptx.load_state_dict(sdpa.state_dict())
    fp32 = copy.deepcopy(sdpa).float().eval()  # deep-copies sdpa's config too: still "sdpa"
    impls = tuple(m.config._attn_implementation for m in (sdpa, ptx, fp32))
    assert impls == ("sdpa", "ptxfmha", "sdpa"), impls
    layers = cfg.num_hidden_layers
    log = KernelLog()
    for model, name in ((sdpa, "sdpa"), (ptx, "ptxfmha"), (fp32, "float32")):
        log.watch(model, name)
    plain_attention = ptxfmha.hf.attention  # unlogged, for --breakdown's attention-alone timing
    ptxfmha.hf.attention = log.wrap("prefill", ptxfmha.hf.attention)
    ptxfmha.hf.attention_with_kvcache = log.wrap("decode", ptxfmha.hf.attention_with_kvcache)

    g = torch.Generator(device=dev).manual_seed(args.seed + 1)
    prompt = torch.randint(3, cfg.vocab_size, (1, args.prompt), generator=g, device=dev)
    long_prompt = torch.randint(3, cfg.vocab_size, (1, args.prefill), generator=g, device=dev)
    n = args.new_tokens
    lines, failures = [], []
    routing = []  # (what, [errors]) for every group of forward passes
    state = {}    # results later sections build on

    def judge(ok, what):
        if not ok:
            failures.append(what)
        return "ok" if ok else "FAIL"

    def section(name, fn, *needs):
        """Runs one check; an exception is reported as that check's ERROR (traceback on stderr)
        and the later checks still run, unless they need what it was to produce."""
        missing = [k for k in needs if k not in state]
        if missing:
            failures.append(name)
            lines.append(f"{name} [NOT RUN]: needs {', '.join(missing)} from a check that failed")
            return
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - reported, counted as a failure
            traceback.print_exc()
            failures.append(name)
            lines.append(f"{name} [ERROR]: {type(e).__name__}: {str(e)[:300]}")
        finally:
            passes = log.take()
            routing.append((name, passes))

    # ---- 1. logits of the prompt ----------------------------------------------------------
    def logits():
        with torch.inference_mode():
            l_sdpa = sdpa(prompt, use_cache=False).logits.float()[0]
            l_ptx = ptx(prompt, use_cache=False).logits.float()[0]
            l_32 = fp32(prompt, use_cache=False).logits.float()[0]
        finite = bool(torch.isfinite(l_ptx).all())
        r = rel_l2(l_ptx, l_sdpa)
        mx = (l_ptx - l_sdpa).abs().max().item()
        agree = (l_ptx.argmax(-1) == l_sdpa.argmax(-1)).float().mean().item()
        r_ptx32, r_sdpa32 = rel_l2(l_ptx, l_32), rel_l2(l_sdpa, l_32)
        a_ptx32 = (l_ptx.argmax(-1) == l_32.argmax(-1)).float().mean().item()
        a_sdpa32 = (l_sdpa.argmax(-1) == l_32.argmax(-1)).float().mean().item()
        handles = attention_off(torch, sdpa)
        try:
            with torch.inference_mode():
                l_none = sdpa(prompt, use_cache=False).logits.float()[0]
        finally:
            for h in handles:
                h.remove()
        decided = (l_none.argmax(-1) != l_sdpa.argmax(-1)).float().mean().item()
        top2 = l_32.topk(2, -1).values
        z = ((top2[:, 0] - l_32.mean(-1)) / l_32.std(-1)).median().item()
        ok1 = (finite and r <= 2e-2 and agree >= 0.97 and r_ptx32 <= 1.25 * r_sdpa32 + 1e-3
               and a_ptx32 >= a_sdpa32 - 0.01)
        lines.append(f"logits, {args.prompt}-token prompt [{judge(ok1, 'logits')}]")
        lines.append(f"  ptxfmha vs sdpa:     max|diff| {mx:.3e}, rel.L2 {r:.3e}, argmax agreement "
                     f"{agree * 100:.2f}% of {args.prompt} positions (bounds: rel.L2 <= 2e-2, >= 97%)")
        lines.append(f"  vs float32 model:    rel.L2 ptxfmha {r_ptx32:.3e}, sdpa {r_sdpa32:.3e} (ratio "
                     f"{r_ptx32 / max(r_sdpa32, 1e-30):.3f}, bound 1.25); argmax agreement ptxfmha "
                     f"{a_ptx32 * 100:.2f}%, sdpa {a_sdpa32 * 100:.2f}%")
        lines.append(f"  peakedness:          float32 top-1 {z:.2f} standard deviations above the mean logit "
                     f"(median); attention decides the argmax at {decided * 100:.1f}% of positions (sdpa "
                     f"with every attention output zeroed picks another token)")

    section("logits", logits)

    # ---- 2. greedy generation (sdpa first: 2 and 3 compare with its tokens) -----------------
    gen_kw = dict(max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0,
                  attention_mask=torch.ones_like(prompt), return_dict_in_generate=True, output_logits=True)

    def generate(model):
        with torch.inference_mode():
            out = model.generate(prompt, **gen_kw)
        return out.sequences[0, args.prompt:], torch.stack([x[0].float() for x in out.logits])

    def sdpa_generate():
        state["tok_sdpa"], state["lg_sdpa"] = generate(sdpa)

    section("sdpa generate", sdpa_generate)

    # ---- 3. teacher-forced decode (needed by 2's near-tie rule) ---------------------------
    def teacher_forced(model, tokens):
        cache = DynamicCache()
        steps = []
        with torch.inference_mode():
            out = model(prompt, past_key_values=cache, use_cache=True)
            steps.append(out.logits[0, -1].float())
            for t in tokens[:-1]:
                out = model(t.view(1, 1), past_key_values=cache, use_cache=True)
                steps.append(out.logits[0, -1].float())
        return torch.stack(steps)

    def teacher():
        tok_sdpa = state["tok_sdpa"]
        tf_sdpa = teacher_forced(sdpa, tok_sdpa)
        tf_32 = teacher_forced(fp32, tok_sdpa)
        top2 = tf_sdpa.topk(2, -1).values
        margin = (top2[:, 0] - top2[:, 1]).tolist()
        noise = (tf_sdpa - tf_32).abs().amax(-1).tolist()  # bf16 noise of the logits, per step
        state["tf_sdpa"], state["tf_32"], state["noise"] = tf_sdpa, tf_32, noise
        close = [i for i in range(n) if margin[i] <= TIE_FACTOR * noise[i]]
        lines.append(f"sdpa top-2 margin / bf16 noise (max|sdpa - float32| logits, same context) per step: {len(close)} "
                     f"of {n} steps have margin <= {TIE_FACTOR:g} x noise (bf16 rounding may flip them): {close[:16]}")
        for i0 in range(0, n, 8):
            lines.append("    " + "  ".join(f"{i:2d}: {margin[i]:.1e}/{noise[i]:.1e}" for i in range(i0, min(n, i0 + 8))))
        tf_ptx = teacher_forced(ptx, tok_sdpa)
        step_rel = [rel_l2(tf_ptx[i], tf_sdpa[i]) for i in range(n)]
        tf_agree = int((tf_ptx.argmax(-1) == tf_sdpa.argmax(-1)).sum().item())
        ok3 = max(step_rel) <= 2e-2 and tf_agree >= n - 2 and bool(torch.isfinite(tf_ptx).all())
        state["ok3"] = ok3
        lines.append(f"teacher-forced decode, {n} steps [{judge(ok3, 'teacher-forced decode')}]: per-step logits "
                     f"rel.L2 max {max(step_rel):.3e}, median {statistics.median(step_rel):.3e}; argmax agreement "
                     f"{tf_agree}/{n} (bounds: <= 2e-2, >= {n - 2})")
        gen_vs_tf = rel_l2(state["lg_sdpa"], tf_sdpa)
        lines.append(f"  (sdpa generate() logits vs its teacher-forced logits: rel.L2 {gen_vs_tf:.1e}, "
                     f"same computation)")

    section("teacher-forced decode", teacher, "tok_sdpa")

    def greedy(label, decode_kernel):
        tok_sdpa, lg_sdpa = state["tok_sdpa"], state["lg_sdpa"]
        ptxfmha.hf.register(decode_kernel=decode_kernel)
        try:
            tok, lg = generate(ptx)
        finally:
            ptxfmha.hf.register()
        same = int((tok == tok_sdpa).long().cumprod(0).sum().item())
        if same == n:
            ok2, detail = True, f"identical {n}/{n} tokens"
        else:
            i = same
            top2 = lg_sdpa[i].topk(2)
            margin = (top2.values[0] - top2.values[1]).item()
            diff = (lg[i] - lg_sdpa[i]).abs().max().item()
            rel = rel_l2(lg[i], lg_sdpa[i])
            noise = state["noise"][i]
            rel_noise = rel_l2(state["tf_sdpa"][i], state["tf_32"][i])
            pick32 = int(state["tf_32"][i].argmax())
            ok2, verdict = divergence_verdict(margin, noise, state.get("ok3", False))
            detail = (f"first {same}/{n} tokens identical; step {i}: sdpa picks {int(tok_sdpa[i])} over "
                      f"{int(top2.indices[1])} by {margin:.3e}, ptxfmha picks {int(tok[i])}, float32 picks {pick32}; "
                      f"bf16 noise there {noise:.3e} (rel.L2 sdpa vs float32 {rel_noise:.2e}; margin / noise = "
                      f"{margin / max(noise, 1e-30):.2f}); ptxfmha vs sdpa max|diff| {diff:.3e}, rel.L2 {rel:.2e} "
                      f"-> {verdict}")
        lines.append(f"greedy {n} tokens, {label} [{judge(ok2, 'generation ' + label)}]: {detail}")

    for label, decode_kernel in (("decode kernel (ptxfmha_decode)", True),
                                 ("prefill kernel for decode steps", False)):
        section(f"greedy {n} tokens, {label}", lambda: greedy(label, decode_kernel), "tok_sdpa", "noise")

    # ---- 4. prefill time ------------------------------------------------------------------
    def prefill_ms(model):
        with torch.inference_mode():
            for _ in range(3):
                model(long_prompt, use_cache=False, logits_to_keep=1)
            times = []
            for _ in range(args.iters):
                if dev.type == "cuda":
                    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    a.record()
                    model(long_prompt, use_cache=False, logits_to_keep=1)
                    b.record()
                    b.synchronize()
                    times.append(a.elapsed_time(b))
                else:
                    t0 = time.perf_counter()
                    model(long_prompt, use_cache=False, logits_to_keep=1)
                    times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times), min(times), max(times)

    def timing():
        t_sdpa = prefill_ms(sdpa)
        t_ptx = prefill_ms(ptx)
        t_sdpa2 = prefill_ms(sdpa)  # again, after ptxfmha: clocks drift under load
        lines.append(f"prefill {args.prefill} tokens (batch 1, median of {args.iters}; min-max): sdpa "
                     f"{t_sdpa[0]:.2f} ms ({t_sdpa[1]:.2f}-{t_sdpa[2]:.2f}; again after: {t_sdpa2[0]:.2f}), ptxfmha "
                     f"{t_ptx[0]:.2f} ms ({t_ptx[1]:.2f}-{t_ptx[2]:.2f}); sdpa/ptxfmha = "
                     f"{min(t_sdpa[0], t_sdpa2[0]) / t_ptx[0]:.3f}, ptxfmha/sdpa = "
                     f"{t_ptx[0] / min(t_sdpa[0], t_sdpa2[0]):.3f} (reported, not judged)")
        if args.breakdown:
            from prefill_breakdown import attention_alone, breakdown

            for model, name in ((sdpa, "sdpa"), (ptx, "ptxfmha")):
                lines.extend(breakdown(torch, model, long_prompt, args.iters, name))
            d, s_len = cfg.head_dim, args.prefill
            lines.extend(attention_alone(torch, plain_attention, (1, cfg.num_attention_heads, s_len, d),
                                         (1, cfg.num_key_value_heads, s_len, d), args.iters))

    section("prefill timing", timing)

    # ---- 5. training step ---------------------------------------------------------------------
    kinds = ("q_proj", "k_proj", "v_proj", "o_proj")
    train_ids = torch.randint(3, cfg.vocab_size, (2, args.train_tokens), generator=g, device=dev)

    def train_grads(model):
        model.zero_grad(set_to_none=True)
        with torch.enable_grad():
            loss = model(train_ids, labels=train_ids, use_cache=False).loss
            loss.backward()
        grads = {n: p.grad.detach().float().flatten() for n, p in model.named_parameters()
                 if p.grad is not None and any(f".{kd}." in n for kd in kinds)}
        model.zero_grad(set_to_none=True)
        return loss.item(), grads

    def training():
        (l_sdpa, g_sdpa), (l_ptx, g_ptx), (l_32, g_32) = (train_grads(m) for m in (sdpa, ptx, fp32))
        assert set(g_ptx) == set(g_sdpa) == set(g_32) and len(g_ptx) == 4 * layers, sorted(g_ptx)[:8]
        names = sorted(g_ptx)
        cat = {k: torch.cat([g[n] for n in names]) for k, g in (("sdpa", g_sdpa), ("ptx", g_ptx), ("32", g_32))}
        finite = bool(torch.isfinite(cat["ptx"]).all())
        r = rel_l2(cat["ptx"], cat["sdpa"])
        r_ptx32, r_sdpa32 = rel_l2(cat["ptx"], cat["32"]), rel_l2(cat["sdpa"], cat["32"])
        loss_rel = abs(l_ptx - l_sdpa) / abs(l_sdpa)
        worst = {kd: max(rel_l2(g_ptx[n], g_sdpa[n]) for n in names if f".{kd}." in n) for kd in kinds}
        ok5 = finite and r <= 3e-2 and r_ptx32 <= 1.25 * r_sdpa32 + 1e-3 and loss_rel <= 1e-2
        lines.append(f"training step, 2 x {args.train_tokens} tokens, loss.backward() [{judge(ok5, 'training step')}]")
        lines.append(f"  loss: sdpa {l_sdpa:.5f}, ptxfmha {l_ptx:.5f}, float32 {l_32:.5f}; attention-projection "
                     f"grads ({len(names)} tensors) ptxfmha vs sdpa rel.L2 {r:.3e} (bound 3e-2)")
        lines.append(f"  vs float32 model:    grads rel.L2 ptxfmha {r_ptx32:.3e}, sdpa {r_sdpa32:.3e} (ratio "
                     f"{r_ptx32 / max(r_sdpa32, 1e-30):.3f}, bound 1.25); worst per kind vs sdpa: "
                     + ", ".join(f"{kd} {v:.2e}" for kd, v in worst.items()))

    section("training step", training)

    # ---- routing of every forward pass above ------------------------------------------------
    bad = []
    for name, passes in routing:
        decode_kernel = "prefill kernel for decode steps" not in name
        bad += [f"{name}: {e}" for e in routing_errors(passes, layers, decode_kernel)[:3]]
        lines.append(f"  passes, {name}: {routing_summary(passes) or 'no ptxfmha pass'}")
    lines.append(f"routing [{judge(not bad, 'routing')}]: " + ("; ".join(bad) if bad else
                 f"the sdpa and float32 models made no ptxfmha call; every ptxfmha pass called one "
                 f"kernel once per layer ({layers}): prefill for the prompts, decode for the decode steps "
                 f"(prefill with decode_kernel=False)"))

    backend = ("PyTorch's own choice for bf16 with is_causal (flash / cuDNN / efficient)" if dev.type == "cuda"
               else "math (CPU)")
    print("=" * 100)
    print(f"ptxfmha model check: Llama {layers} layers, hidden {cfg.hidden_size}, {cfg.num_attention_heads} query / "
          f"{cfg.num_key_value_heads} KV heads, head dim {cfg.head_dim}, bf16, seed {args.seed}; random weights, "
          + (f"peaked logits (--peaked {args.peaked:g}: embeddings x {args.peaked:g} + a random bigram table in "
             f"lm_head)" if args.peaked else f"initializer_range {cfg.initializer_range} (logits nearly flat)"))
    device_name = torch.cuda.get_device_name() if dev.type == "cuda" else str(dev)
    print(f"device {device_name}, torch {torch.__version__}, transformers {transformers.__version__}, "
          f"ptxfmha {ptxfmha.__version__} ({ptxfmha.library_path()}); sdpa backend: {backend}")
    for line in lines:
        print(line)
    verdict = "PASS" if not failures else "FAIL: " + ", ".join(failures)
    print(f"verdict: {verdict}   ({time.time() - t_start:.1f} s)")
    print("=" * 100)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
