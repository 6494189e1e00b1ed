// GPU tests of the backward's variable-length (packed) mode (suite gpu-sm90a, skipped without a
// device). Each sequence of a packed batch is its own problem for the existing machinery
// (tests/bwd_test_util.h): its inputs (Q, K, V, dO random, O and LSE from the float64 forward
// with the same features), its float64 gradients and the per-element bounds; the sequences
// are packed into Q / O / dO [total_q, heads_q, D] and K / V [total_k, heads_kv, D] (LSE
// [heads_q, total_q]), one ptxfmha_bwd call runs them all, and each sequence's rows are cut
// out of the packed outputs and judged as that problem. Besides:
//   - a sequence with no query rows gets dK = dV = 0 on its keys, one with no keys dQ = 0;
//   - with seqused_k the key rows past it keep the poison (not written), and hold junk that
//     must not matter (finite: rows a tile reads as its padding);
//   - outputs and workspace poisoned before every run; NaN never passes (bwd_test_util.h);
//   - deterministic mode: three runs bitwise identical (dQ, dK, dV, d_sink);
//   - d_sink against -sum over every sequence's rows of exp(t - LSE) D;
//   - equal lengths: the packed call and the fixed-length call on the same bytes give the same
//     bits when both run the EXT main kernel (a varlen call always does); the plain kernel
//     rounds S * scale + nlse in one FMA, so against it only the bounds are checked.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "bwd_test_util.h"

using namespace ptxfmha_test;

namespace {

struct VarlenCase {
  std::vector<int> len_q, len_k;  // per sequence; len_k is cap_k (cu_seqlens_k's lengths)
  std::vector<int> used_k;        // empty: no seqused_k; else keys present per sequence
  int heads_q = 2, heads_kv = 1, head_dim = 64;
  bool causal = false, deterministic = false;
  int window_left = -1, window_right = -1;
  float softcap = 0;
  bool alibi = false, sinks = false;
  int batch() const { return static_cast<int>(len_q.size()); }
  int keys(int b) const { return used_k.empty() ? len_k[b] : used_k[b]; }
};

std::string describe(const VarlenCase& c) {
  std::ostringstream s;
  s << "varlen B=" << c.batch() << " Hq=" << c.heads_q << " Hkv=" << c.heads_kv << " D=" << c.head_dim
    << " causal=" << c.causal << " det=" << c.deterministic << " lq={";
  for (int x : c.len_q) s << x << ",";
  s << "} lk={";
  for (int x : c.len_k) s << x << ",";
  s << "}";
  if (!c.used_k.empty()) {
    s << " used={";
    for (int x : c.used_k) s << x << ",";
    s << "}";
  }
  if (c.window_left >= 0 || c.window_right >= 0 || c.softcap > 0 || c.alibi || c.sinks)
    s << " window=(" << c.window_left << "," << c.window_right << ") softcap=" << c.softcap << " alibi=" << c.alibi
      << " sinks=" << c.sinks;
  return s.str();
}

// The host side of a packed batch: per-sequence problems, inputs and references, and the
// packed tensors.
struct VarlenHost {
  VarlenCase c;
  std::vector<int32_t> cu_q, cu_k, used;
  int total_q = 0, total_k = 0, max_q = 0, max_k = 0;
  std::vector<float> slopes, sinks;
  std::vector<BwdProblem> prob;       // per sequence (batch 1, len_q x keys)
  std::vector<BwdHostInputs> in;
  std::vector<BwdReference> ref;      // empty for a sequence without queries or keys
  std::vector<uint16_t> q, k, v, o, dout;
  std::vector<float> lse;             // [heads_q, total_q]
  int64_t qrow() const { return int64_t(c.heads_q) * c.head_dim; }
  int64_t krow() const { return int64_t(c.heads_kv) * c.head_dim; }
};

VarlenHost make_host(const VarlenCase& c, uint64_t seed) {
  VarlenHost h;
  h.c = c;
  const int B = c.batch(), D = c.head_dim;
  h.cu_q.assign(B + 1, 0);
  h.cu_k.assign(B + 1, 0);
  for (int b = 0; b < B; ++b) {
    h.cu_q[b + 1] = h.cu_q[b] + c.len_q[b];
    h.cu_k[b + 1] = h.cu_k[b] + c.len_k[b];
    h.max_q = std::max(h.max_q, c.len_q[b]);
    h.max_k = std::max(h.max_k, c.len_k[b]);
  }
  h.used.assign(c.used_k.begin(), c.used_k.end());
  h.total_q = h.cu_q[B];
  h.total_k = h.cu_k[B];
  for (int x = 0; x < c.heads_q; ++x) {
    if (c.alibi) h.slopes.push_back(std::exp2(-8.0f * float(x + 1) / float(c.heads_q)));
    if (c.sinks) h.sinks.push_back(0.5f * float(x % 3) - 0.25f);
  }
  std::mt19937_64 rng(seed ^ 0x5eed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  auto junk = [&](std::vector<uint16_t>& t, std::size_t from, std::size_t n) {
    for (std::size_t i = from; i < from + n; ++i) t[i] = ptxfmha::float_to_bf16(nd(rng));
  };
  h.q.assign(std::size_t(h.total_q) * h.qrow(), 0);
  h.o = h.dout = h.q;
  h.k.assign(std::size_t(h.total_k) * h.krow(), 0);
  h.v = h.k;
  junk(h.q, 0, h.q.size()); junk(h.dout, 0, h.dout.size());
  junk(h.k, 0, h.k.size()); junk(h.v, 0, h.v.size());  // rows no reference covers keep this
  const float no_key = -std::numeric_limits<float>::infinity();
  h.lse.assign(std::size_t(c.heads_q) * std::max(h.total_q, 1), no_key);
  for (int b = 0; b < B; ++b) {
    const int lq = c.len_q[b], lk = c.keys(b);
    BwdProblem p = bwd_problem(1, std::max(lq, 1), std::max(lk, 1), c.heads_q, c.heads_kv, D, c.causal, c.deterministic);
    p.window_left = c.window_left; p.window_right = c.window_right; p.softcap = c.softcap;
    p.alibi = h.slopes; p.sinks = h.sinks;
    h.prob.push_back(p);
    if (lq == 0 || lk == 0) {  // no reference: a row without keys has O = 0, LSE = -inf (or t)
      h.in.emplace_back();
      h.ref.emplace_back();
      for (int s = 0; s < lq; ++s)
        for (int x = 0; x < c.heads_q; ++x)
          h.lse[std::size_t(x) * h.total_q + h.cu_q[b] + s] = c.sinks ? h.sinks[x] : no_key;
      continue;
    }
    h.in.push_back(bwd_inputs(p, seed + 977 * b));
    h.ref.push_back(bwd_reference(p, h.in.back()));
    const BwdHostInputs& in = h.in.back();
    for (int s = 0; s < lq; ++s)
      for (int x = 0; x < c.heads_q; ++x) {
        for (int d = 0; d < D; ++d) {
          const std::size_t at = std::size_t(h.cu_q[b] + s) * h.qrow() + std::size_t(x) * D + d;
          const std::size_t from = std::size_t(elem_index(p.q, 0, s, x, d));
          h.q[at] = in.q[from];
          h.o[at] = in.o[std::size_t(elem_index(p.o, 0, s, x, d))];
          h.dout[at] = in.dout[std::size_t(elem_index(p.dout, 0, s, x, d))];
        }
        h.lse[std::size_t(x) * h.total_q + h.cu_q[b] + s] = in.lse[std::size_t(x) * lq + s];
      }
    for (int j = 0; j < lk; ++j)
      for (int x = 0; x < c.heads_kv; ++x)
        for (int d = 0; d < D; ++d) {
          const std::size_t at = std::size_t(h.cu_k[b] + j) * h.krow() + std::size_t(x) * D + d;
          h.k[at] = in.k[std::size_t(elem_index(p.k, 0, j, x, d))];
          h.v[at] = in.v[std::size_t(elem_index(p.v, 0, j, x, d))];
        }
  }
  return h;
}

// Device buffers of a packed batch; outputs poisoned before every run.
struct VarlenDevice {
  DeviceBuffer q, k, v, o, dout, lse, dq, dk, dv, cu_q, cu_k, used, slopes, sinks, dsink, ws;
  uint64_t ws_bytes = 0;
  std::size_t nq = 0, nk = 0;
  const VarlenHost* h = nullptr;

  explicit VarlenDevice(const VarlenHost& host) : h(&host) {
    nq = std::max<std::size_t>(host.q.size(), 8);
    nk = std::max<std::size_t>(host.k.size(), 8);
    for (DeviceBuffer* b : {&q, &o, &dout, &dq}) b->alloc(nq * 2);
    for (DeviceBuffer* b : {&k, &v, &dk, &dv}) b->alloc(nk * 2);
    if (!host.q.empty()) { q.upload(host.q); o.upload(host.o); dout.upload(host.dout); }
    if (!host.k.empty()) { k.upload(host.k); v.upload(host.v); }
    lse.alloc(host.lse.size() * 4); lse.upload(host.lse);
    cu_q.alloc(host.cu_q.size() * 4); cu_q.upload(host.cu_q);
    cu_k.alloc(host.cu_k.size() * 4); cu_k.upload(host.cu_k);
    if (!host.used.empty()) { used.alloc(host.used.size() * 4); used.upload(host.used); }
    if (!host.slopes.empty()) { slopes.alloc(host.slopes.size() * 4); slopes.upload(host.slopes); }
    if (!host.sinks.empty()) {
      sinks.alloc(host.sinks.size() * 4); sinks.upload(host.sinks);
      dsink.alloc(host.sinks.size() * 4);
    }
    ptxfmha_bwd_params a = params();
    const ptxfmha_status st = ptxfmha_bwd_workspace_size(&a, &ws_bytes);
    if (st != PTXFMHA_OK) FAIL("ptxfmha_bwd_workspace_size: " << str(ptxfmha_last_error()));
    ws.alloc(static_cast<std::size_t>(std::max<uint64_t>(ws_bytes, 16)));
  }

  ptxfmha_bwd_params params() const {
    const VarlenCase& c = h->c;
    ptxfmha_bwd_params a;
    ptxfmha_bwd_params_init(&a);
    a.q = q.get(); a.k = k.get(); a.v = v.get(); a.o = o.get(); a.dout = dout.get();
    a.lse = static_cast<const float*>(lse.get());
    a.dq = dq.get(); a.dk = dk.get(); a.dv = dv.get();
    a.q_seq_stride = a.o_seq_stride = a.dout_seq_stride = a.dq_seq_stride = h->qrow();
    a.k_seq_stride = a.v_seq_stride = a.dk_seq_stride = a.dv_seq_stride = h->krow();
    a.q_head_stride = a.o_head_stride = a.dout_head_stride = a.dq_head_stride = c.head_dim;
    a.k_head_stride = a.v_head_stride = a.dk_head_stride = a.dv_head_stride = c.head_dim;
    a.batch = c.batch(); a.heads_q = c.heads_q; a.heads_kv = c.heads_kv; a.head_dim = c.head_dim;
    a.cu_seqlens_q = static_cast<const int32_t*>(cu_q.get());
    a.cu_seqlens_k = static_cast<const int32_t*>(cu_k.get());
    a.seqused_k = h->used.empty() ? nullptr : static_cast<const int32_t*>(used.get());
    a.max_seqlen_q = h->max_q; a.max_seqlen_k = h->max_k; a.total_q = h->total_q; a.total_k = h->total_k;
    a.causal = c.causal; a.deterministic = c.deterministic;
    a.window_left = c.window_left; a.window_right = c.window_right; a.softcap = c.softcap;
    a.alibi_slopes = h->slopes.empty() ? nullptr : static_cast<const float*>(slopes.get());
    a.sink_logits = h->sinks.empty() ? nullptr : static_cast<const float*>(sinks.get());
    a.d_sink = h->sinks.empty() ? nullptr : static_cast<float*>(dsink.get());
    a.workspace = ws.get(); a.workspace_bytes = ws_bytes;
    return a;
  }

  struct Out {
    std::vector<uint16_t> dq, dk, dv;
    std::vector<float> dsink;
    bool same_bits(const Out& x) const {
      return dq == x.dq && dk == x.dk && dv == x.dv &&
             std::memcmp(dsink.data(), x.dsink.data(), dsink.size() * 4) == 0;
    }
  };
  void run(Out* out) {
    dq.fill16(kPoisonBf16, nq); dk.fill16(kPoisonBf16, nk); dv.fill16(kPoisonBf16, nk);
    ws.fill32(kPoisonF32, ws.bytes() / 4);
    if (!h->sinks.empty()) dsink.fill32(kPoisonF32, h->sinks.size());
    const ptxfmha_bwd_params a = params();
    const ptxfmha_status st = ptxfmha_bwd(&a);
    if (st != PTXFMHA_OK) FAIL("ptxfmha_bwd: " << str(ptxfmha_last_error()) << " [" << describe(h->c) << "]");
    PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
    dq.download(out->dq, nq); dk.download(out->dk, nk); dv.download(out->dv, nk);
    out->dsink.assign(h->sinks.size(), 0.0f);
    if (!h->sinks.empty()) dsink.download(out->dsink, h->sinks.size());
  }
};

// Every check of one packed run; returns the failures ("" = pass) and the worst figures.
std::string judge(const VarlenHost& h, const VarlenDevice::Out& got, std::string* figures) {
  const VarlenCase& c = h.c;
  const int D = c.head_dim;
  std::ostringstream why, fig;
  double worst_l2 = 0, worst_ratio = 0, worst_cos = 1, worst_abs = 0;
  long long zero_bad = 0, tail_bad = 0;
  for (int b = 0; b < c.batch(); ++b) {
    const int lq = c.len_q[b], lk = c.keys(b);
    // key rows past seqused_k: not written
    for (int j = lk; j < c.len_k[b]; ++j)
      for (int64_t e = 0; e < h.krow(); ++e) {
        const std::size_t at = std::size_t(h.cu_k[b] + j) * h.krow() + e;
        tail_bad += (got.dk[at] != kPoisonBf16) + (got.dv[at] != kPoisonBf16);
      }
    if (lq == 0 || lk == 0) {  // dK = dV = 0 on the keys, or dQ = 0 on the rows
      for (int j = 0; j < (lq == 0 ? lk : 0); ++j)
        for (int64_t e = 0; e < h.krow(); ++e) {
          const std::size_t at = std::size_t(h.cu_k[b] + j) * h.krow() + e;
          zero_bad += (got.dk[at] != 0) + (got.dv[at] != 0);  // +0.0 exactly (bits 0)
        }
      for (int s = 0; s < (lk == 0 ? lq : 0); ++s)
        for (int64_t e = 0; e < h.qrow(); ++e)
          zero_bad += ptxfmha::bf16_to_float(got.dq[std::size_t(h.cu_q[b] + s) * h.qrow() + e]) != 0.0f;
      continue;
    }
    const BwdProblem& p = h.prob[b];
    BwdOutputs o;
    o.dq.assign(std::size_t(p.dq.elems), kPoisonBf16);
    o.dk.assign(std::size_t(p.dk.elems), kPoisonBf16);
    o.dv.assign(std::size_t(p.dv.elems), kPoisonBf16);
    for (int s = 0; s < lq; ++s)
      for (int x = 0; x < c.heads_q; ++x)
        for (int d = 0; d < D; ++d)
          o.dq[std::size_t(elem_index(p.dq, 0, s, x, d))] = got.dq[std::size_t(h.cu_q[b] + s) * h.qrow() + x * D + d];
    for (int j = 0; j < lk; ++j)
      for (int x = 0; x < c.heads_kv; ++x)
        for (int d = 0; d < D; ++d) {
          const std::size_t at = std::size_t(h.cu_k[b] + j) * h.krow() + x * D + d;
          o.dk[std::size_t(elem_index(p.dk, 0, j, x, d))] = got.dk[at];
          o.dv[std::size_t(elem_index(p.dv, 0, j, x, d))] = got.dv[at];
        }
    const BwdFigures f = evaluate_bwd(p, o, h.ref[b]);
    const std::string w = bwd_failure(p, f);
    if (!w.empty()) why << "sequence " << b << " (lq " << lq << ", lk " << lk << "): " << w;
    for (const TensorFigures* t : {&f.dq, &f.dk, &f.dv}) {
      worst_ratio = std::max(worst_ratio, t->worst_ratio);
      worst_abs = std::max(worst_abs, t->e.max_abs);
      if (!t->at_noise_floor) {
        worst_l2 = std::max(worst_l2, t->e.rel_l2);
        worst_cos = std::min(worst_cos, t->e.cosine);
      }
    }
  }
  if (zero_bad) why << zero_bad << " elements of sequences without queries (dK, dV) or keys (dQ) not exactly 0; ";
  if (tail_bad) why << tail_bad << " dK/dV elements past seqused_k written; ";
  if (c.sinks) {  // d_sink = -sum over rows of exp(t - LSE) D, D from the given O and dO
    for (int x = 0; x < c.heads_q; ++x) {
      double want = 0, mag = 0;
      for (int r = 0; r < h.total_q; ++r) {
        double dd = 0;
        for (int d = 0; d < D; ++d) {
          const std::size_t at = std::size_t(r) * h.qrow() + x * D + d;
          dd += double(ptxfmha::bf16_to_float(h.o[at])) * ptxfmha::bf16_to_float(h.dout[at]);
        }
        const double e = std::exp(double(h.sinks[x]) - h.lse[std::size_t(x) * h.total_q + r]);
        want -= e * dd;
        mag += std::fabs(e * dd);
      }
      const double g = got.dsink[x];
      if (!(std::fabs(g - want) <= 1e-3 * mag + 1e-6))
        why << "d_sink[" << x << "] = " << g << ", expected " << want << " (sum of |terms| " << mag << "); ";
    }
  }
  fig << "rel.L2 " << worst_l2 << " max|err| " << worst_abs << " cosine " << worst_cos << " worst err/bound "
      << worst_ratio;
  *figures = fig.str();
  return why.str();
}

// Runs a case (3 times in deterministic mode, bitwise compared) and checks it.
void run_varlen(const VarlenCase& c, uint64_t seed) {
  const VarlenHost h = make_host(c, seed);
  VarlenDevice dev(h);
  VarlenDevice::Out first;
  dev.run(&first);
  std::string figures;
  const std::string why = judge(h, first, &figures);
  MESSAGE(describe(c) << ": " << figures);
  CHECK_MESSAGE(why.empty(), describe(c) << ": " << why);
  if (c.deterministic)
    for (int r = 0; r < 2; ++r) {
      VarlenDevice::Out again;
      dev.run(&again);
      CHECK_MESSAGE(again.same_bits(first), describe(c) << ": run " << r + 2 << " differs bitwise");
    }
}

}  // namespace

TEST_CASE("gpu bwd varlen: odd lengths, empty sequences, seqlen_q != seqlen_k, causal, GQA, every head dim" *
          doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  uint64_t seed = 9100;
  for (int d : bwd_head_dims())
    for (bool causal : {false, true})
      for (int ratio : {1, 4, 8}) {
        VarlenCase c;
        c.head_dim = d; c.causal = causal; c.heads_kv = 1; c.heads_q = ratio;
        const int longest = ratio == 1 ? 1000 : 300;  // the float64 reference's time
        c.len_q = {1, 2, 63, 0, 65, 127, 129, longest};
        c.len_k = {1, 3, 64, 70, 0, 127, 200, longest};
        c.deterministic = ratio == 4;
        run_varlen(c, seed++);
      }
}

TEST_CASE("gpu bwd varlen: seqused_k, features (window, softcap, ALiBi, sinks + d_sink), both modes" *
          doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  uint64_t seed = 9300;
  for (int d : bwd_head_dims())
    for (int variant = 0; variant < 4; ++variant) {
      VarlenCase c;
      c.head_dim = d; c.heads_q = 4; c.heads_kv = 2;
      c.len_q = {65, 1, 0, 300, 129};
      c.len_k = {100, 7, 40, 257, 1};
      c.used_k = {70, 7, 33, 257, 1};
      c.deterministic = variant % 2 == 1;
      c.causal = variant < 2;
      if (variant == 0) { c.window_left = 48; c.sinks = true; }
      if (variant == 1) { c.softcap = 20.0f; c.alibi = true; }
      if (variant == 2) { c.window_left = 30; c.window_right = 10; c.alibi = true; c.sinks = true; }
      if (variant == 3) { c.softcap = 15.0f; c.sinks = true; c.window_left = 100; c.window_right = 0; }
      run_varlen(c, seed++);
    }
}

TEST_CASE("gpu bwd varlen: equal lengths, the packed call against the fixed-length call on the same bytes" *
          doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  uint64_t seed = 9500;
  for (int d : bwd_head_dims())
    for (bool causal : {false, true}) {
      VarlenCase c;
      c.head_dim = d; c.causal = causal; c.heads_q = 4; c.heads_kv = 2; c.deterministic = true;
      c.len_q = {130, 130, 130};
      c.len_k = {200, 200, 200};
      const VarlenHost h = make_host(c, seed++);
      VarlenDevice dev(h);
      VarlenDevice::Out packed;
      dev.run(&packed);
      std::string figures;
      CHECK_MESSAGE(judge(h, packed, &figures).empty(), describe(c));
      // The same buffers as a fixed-length batch [3, S, H, D] (dense packed rows are that),
      // except the LSE: packed it is [heads_q, total_q], fixed [batch, heads_q, seqlen_q].
      const int B = c.batch(), S = 130;
      std::vector<float> lse_fixed(h.lse.size());
      for (int b = 0; b < B; ++b)
        for (int x = 0; x < c.heads_q; ++x)
          for (int r = 0; r < S; ++r)
            lse_fixed[(std::size_t(b) * c.heads_q + x) * S + r] = h.lse[std::size_t(x) * h.total_q + b * S + r];
      DeviceBuffer lse_fixed_dev;
      lse_fixed_dev.alloc(lse_fixed.size() * 4);
      lse_fixed_dev.upload(lse_fixed);
      ptxfmha_bwd_params a = dev.params();
      a.lse = static_cast<const float*>(lse_fixed_dev.get());
      a.cu_seqlens_q = a.cu_seqlens_k = nullptr;
      a.max_seqlen_q = a.max_seqlen_k = a.total_q = a.total_k = 0;
      a.seqlen_q = 130; a.seqlen_k = 200;
      a.q_batch_stride = a.o_batch_stride = a.dout_batch_stride = a.dq_batch_stride = 130 * h.qrow();
      a.k_batch_stride = a.v_batch_stride = a.dk_batch_stride = a.dv_batch_stride = 200 * h.krow();
      uint64_t need = 0;
      REQUIRE(ptxfmha_bwd_workspace_size(&a, &need) == PTXFMHA_OK);
      REQUIRE(need <= dev.ws_bytes);  // the packed layout pads more than the fixed one
      const std::string ext_name = "fmha_bwd_d" + std::to_string(d) + "_ext_sm90a";
      const ptxfmha::KernelInfo* ext = ptxfmha::find_bwd_main_row(ext_name.c_str());
      REQUIRE(ext != nullptr);
      for (const ptxfmha::KernelInfo* row : {ext, static_cast<const ptxfmha::KernelInfo*>(nullptr)}) {
        dev.dq.fill16(kPoisonBf16, dev.nq); dev.dk.fill16(kPoisonBf16, dev.nk); dev.dv.fill16(kPoisonBf16, dev.nk);
        const ptxfmha_status st = row ? ptxfmha::bwd_with_main_row(&a, row, 0) : ptxfmha_bwd(&a);
        REQUIRE_MESSAGE(st == PTXFMHA_OK, str(ptxfmha_last_error()));
        PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
        VarlenDevice::Out fixed;
        dev.dq.download(fixed.dq, dev.nq); dev.dk.download(fixed.dk, dev.nk); dev.dv.download(fixed.dv, dev.nk);
        if (row != nullptr) {
          CHECK_MESSAGE(fixed.dq == packed.dq, describe(c) << ": dQ of the fixed call on " << ext_name << " differs");
          CHECK_MESSAGE(fixed.dk == packed.dk, describe(c) << ": dK of the fixed call on " << ext_name << " differs");
          CHECK_MESSAGE(fixed.dv == packed.dv, describe(c) << ": dV of the fixed call on " << ext_name << " differs");
        } else {  // the plain kernel: its own rounding, the same bounds
          fixed.dsink = packed.dsink;
          long long diff = 0;
          for (std::size_t i = 0; i < fixed.dq.size(); ++i) diff += fixed.dq[i] != packed.dq[i];
          for (std::size_t i = 0; i < fixed.dk.size(); ++i) diff += (fixed.dk[i] != packed.dk[i]) + (fixed.dv[i] != packed.dv[i]);
          CHECK_MESSAGE(judge(h, fixed, &figures).empty(), describe(c) << ": the plain fixed-length call");
          MESSAGE(describe(c) << ": plain fixed-length kernel vs packed (EXT): " << diff << " bf16 elements differ; "
                              << figures);
        }
      }
    }
}

// Small and odd packed batches for compute-sanitizer (tools/gpu-check.sh runs every test case
// named "sanitizer shapes"): lengths 0, 1, residues, seqused_k, every feature, both modes.
TEST_CASE("gpu bwd varlen: sanitizer shapes (empty, 1, residues, seqused_k, features)" *
          doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  uint64_t seed = 9700;
  for (int d : bwd_head_dims())
    for (int variant = 0; variant < 3; ++variant) {
      VarlenCase c;
      c.head_dim = d; c.heads_q = 2; c.heads_kv = 1;
      c.len_q = {1, 0, 67, 5};
      c.len_k = {2, 9, 0, 130};
      c.causal = variant != 1;
      c.deterministic = variant == 1;
      if (variant == 1) c.used_k = {1, 9, 0, 77};
      if (variant == 2) { c.window_left = 20; c.softcap = 10.0f; c.alibi = true; c.sinks = true; }
      run_varlen(c, seed++);
    }
}

TEST_CASE("gpu bwd varlen: ptxfmha_check_bwd_metadata reads the arrays, names the first bad entry" *
          doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  VarlenCase c;
  c.head_dim = bwd_head_dims().front();
  c.len_q = {5, 0, 9};
  c.len_k = {7, 3, 0};
  c.used_k = {6, 3, 0};
  const VarlenHost h = make_host(c, 9900);
  VarlenDevice dev(h);
  ptxfmha_bwd_params a = dev.params();
  CHECK(ptxfmha_check_bwd_metadata(&a) == PTXFMHA_OK);
  std::vector<int32_t> bad = h.cu_q;
  bad[2] = 100;  // past total_q
  dev.cu_q.upload(bad);
  CHECK(ptxfmha_check_bwd_metadata(&a) == PTXFMHA_ERR_INVALID_METADATA);
  CHECK(std::string(ptxfmha_last_error()).find("cu_seqlens_q") != std::string::npos);
}

// Whatever the device-resident metadata holds, no access leaves the tensors and the workspace
// (the kernels clamp, varlen.ptxh): garbage offsets, lengths and seqused_k, run under
// compute-sanitizer memcheck by tools/gpu-check.sh (its filter takes "sanitizer shapes").
TEST_CASE("gpu bwd varlen: sanitizer shapes, garbage metadata (clamped, no out-of-bounds access)" *
          doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  for (int d : bwd_head_dims())
    for (int det : {0, 1}) {
      VarlenCase c;
      c.head_dim = d; c.heads_q = 2; c.heads_kv = 1; c.causal = det == 1; c.deterministic = det == 1;
      c.len_q = {40, 70, 3};
      c.len_k = {90, 1, 60};
      c.used_k = {90, 1, 60};
      if (det == 1) { c.window_left = 16; c.alibi = true; c.sinks = true; }
      const VarlenHost h = make_host(c, 9950 + d + det);
      VarlenDevice dev(h);
      dev.cu_q.upload(std::vector<int32_t>{7, 100000, -5, 2});
      dev.cu_k.upload(std::vector<int32_t>{-40, 99999, 3, -1});
      dev.used.upload(std::vector<int32_t>{-3, 1000000, 55});
      const ptxfmha_bwd_params a = dev.params();
      CHECK(ptxfmha_check_bwd_metadata(&a) == PTXFMHA_ERR_INVALID_METADATA);
      VarlenDevice::Out out;
      dev.run(&out);  // the status is OK; the values are unspecified, the accesses in bounds
    }
}
