// Family "attn": the serving features of ptxfmha_attn (issue 14) against cuDNN's SDPA with the
// same feature where it has one (bench_case.h attn_grid lists the cells):
//   varlen    ptxfmha_attn with cu_seqlens_q / _k on packed Q/K/V/O   cuDNN ragged (THD) SDPA
//   window    window_left 4096, causal                                cuDNN diagonal band
//   paged     a paged cache through the case's page table             cuDNN paged SDPA
//   softcap   softcap 50, causal                                      cuDNN without softcap (it
//             cannot combine its softcap with a mask: cudnn_sdpa.h SdpaProblem::softcap)
//   softcapnc softcap 50, not causal                                  cuDNN with softcap
//   sinks     sink logits + window 128                                cuDNN sink token + band
//   no*       the same shapes without the feature (ptxfmha_attn without features runs the
//             plain rows), so ours with / without a feature compare in one run
//   fwdoff    every prefill-grid cell on the EXT row with every feature off (fwd_with_row),
//             beside the plain rows' "fwd" cells of the same run: the "features off" A/B
// Every cell is gated (bench_gate.cpp) before timing; the serving cells against the feature-
// aware float64 reference (ptxfmha::reference_attn on sampled rows: the first and last 8 query
// rows of the first, a middle and the last sequence), each side against the problem it
// computes (cuDNN's masked softcap cells: without the cap), and ours against cuDNN over the whole O
// where both compute the same problem.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "attn.h"
#include "attn_kernel_abi.h"
#include "bench_family.h"
#include "bench_options.h"
#include "driver.h"
#include "fwd.h"
#include "kernel_lookup.h"
#include "ptxfmha/reference.h"

namespace ptxfmha_bench {
namespace {

// A case's metadata on the device and on the host (in OursPlan::family_state).
struct AttnState {
  std::vector<int32_t> cu;     // varlen: [batch + 1] row offsets
  std::vector<float> sinks;    // [heads_q] when the case has sinks
  DeviceBuffer cu_dev, sinks_dev, ragged_q, ragged_kv, seq_len_dev;
  // The sampled reference, computed once per problem (ours; cuDNN's, which differs only
  // where it lacks the softcap) and reused by every check of the case (cuDNN's tuner checks each plan).
  bool ref_ready[2] = {false, false};
  ptxfmha::RefAttnResult ref[2];
  std::vector<int64_t> picked;  // the sampled output rows
};

// The cells without LSE: cuDNN's ragged graph writes none, and whether its stats include a
// sink is not ptxfmha's definition (LSE includes the sink), so neither side writes one there.
bool with_lse(const Case& c) { return !c.varlen() && !c.sinks; }


// The states by case name, for cudnn_problem (which sees only the Case); owned by the cases'
// OursPlan (destroyed with the bench's case states, before the context goes).
std::mutex g_mutex;
std::map<std::string, std::weak_ptr<AttnState>> g_states_by_case;

std::shared_ptr<AttnState> state_of(const Case& c) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_states_by_case.find(c.name);
  return it == g_states_by_case.end() ? nullptr : it->second.lock();
}

template <class T>
void upload_vec(DeviceBuffer& b, const std::vector<T>& v) {
  b.alloc(std::max<std::size_t>(v.size(), 1) * sizeof(T));
  if (!v.empty())
    cu_check(ptxfmha::drv().cuMemcpyHtoD(b.ptr(), v.data(), v.size() * sizeof(T)), "cuMemcpyHtoD");
}

std::shared_ptr<AttnState> make_state(const Case& c) {
  auto s = std::make_shared<AttnState>();
  if (c.varlen()) {
    s->cu.push_back(0);
    for (int32_t l : c.seqlens) s->cu.push_back(s->cu.back() + l);
    upload_vec(s->cu_dev, s->cu);
    std::vector<int32_t> rq, rkv;  // cuDNN's ragged offsets: elements, not rows
    for (int32_t r : s->cu) {
      rq.push_back(int32_t(int64_t(r) * c.heads_q * c.head_dim));
      rkv.push_back(int32_t(int64_t(r) * c.heads_kv * c.head_dim));
    }
    upload_vec(s->ragged_q, rq);
    upload_vec(s->ragged_kv, rkv);
    upload_vec(s->seq_len_dev, c.seqlens);
  }
  if (c.sinks) {  // learned-looking sink logits in [-1.5, 1.5]
    for (int64_t h = 0; h < c.heads_q; ++h) s->sinks.push_back(0.5f * float(int(h % 7) - 3));
    upload_vec(s->sinks_dev, s->sinks);
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  g_states_by_case[c.name] = s;
  return s;
}

uint32_t case_features(const Case& c) {
  uint32_t f = 0;
  if (c.varlen()) f |= ptxfmha::kAttnVarlenQ | ptxfmha::kAttnVarlenK;
  if (c.paged()) f |= ptxfmha::kAttnPagedKV;
  if (c.window_left >= 0) f |= ptxfmha::kAttnWindow;
  if (c.softcap > 0) f |= ptxfmha::kAttnSoftcap;
  if (c.sinks) f |= ptxfmha::kAttnSinks;
  return f;
}

// K/V strides: dense [batch, seqlen_k, heads_kv, d], packed [total, ...], or the page pool.
void kv_strides(const Case& c, int64_t st[3]) {
  dense_strides(c.paged() ? c.page_size : c.seqlen_k, c.heads_kv, c.head_dim, st);
  if (c.varlen()) st[0] = 0;
}

ptxfmha_attn_params attn_params(const Case& c, const AttnState& s, const SetView& v) {
  ptxfmha_attn_params a;
  ptxfmha_attn_params_init(&a);
  int64_t st[3], kst[3];
  dense_strides(c.seqlen_q, c.heads_q, c.head_dim, st);
  kv_strides(c, kst);
  a.q = v.q; a.k = v.k; a.v = v.v; a.o = v.o;
  a.lse = with_lse(c) ? v.lse : nullptr;
  a.q_batch_stride = c.varlen() ? 0 : st[0]; a.q_seq_stride = st[1]; a.q_head_stride = st[2];
  a.o_batch_stride = a.q_batch_stride; a.o_seq_stride = st[1]; a.o_head_stride = st[2];
  a.k_batch_stride = kst[0]; a.k_seq_stride = kst[1]; a.k_head_stride = kst[2];
  a.v_batch_stride = kst[0]; a.v_seq_stride = kst[1]; a.v_head_stride = kst[2];
  a.batch = int32_t(c.batch); a.heads_q = int32_t(c.heads_q); a.heads_kv = int32_t(c.heads_kv);
  a.head_dim = int32_t(c.head_dim);
  if (c.varlen()) {
    a.cu_seqlens_q = a.cu_seqlens_k = static_cast<const int32_t*>(s.cu_dev.get());
    a.max_seqlen_q = int32_t(c.seqlen_q); a.total_q = s.cu.back();
    a.max_seqlen_k = int32_t(c.seqlen_k); a.total_k = s.cu.back();
  } else {
    a.seqlen_q = int32_t(c.seqlen_q);
    a.seqlen_k = int32_t(c.seqlen_k);
  }
  if (c.paged()) {
    a.block_table = v.page_table;
    a.page_size = int32_t(c.page_size);
    a.max_blocks_per_seq = int32_t(c.blocks_per_seq());
    a.num_pages = int32_t(c.num_pages());
  }
  a.softmax_scale = ours_scale(c);
  a.causal = c.causal ? 1 : 0;
  a.window_left = int32_t(c.window_left);
  a.softcap = c.softcap;
  if (c.sinks) a.sink_logits = static_cast<const float*>(s.sinks_dev.get());
  a.stream = g_stream;
  return a;
}

// The float64 reference problem of one side over host copies of set 0 (`cudnn`: the problem
// cuDNN's graph computes where it lacks the softcap: no cap).
ptxfmha::RefAttnProblem ref_problem(const Case& c, const AttnState& s, const CaseState& cs, bool cudnn) {
  ptxfmha::RefAttnProblem p;
  p.batch = int(c.batch); p.heads_q = int(c.heads_q); p.heads_kv = int(c.heads_kv); p.head_dim = int(c.head_dim);
  p.softmax_scale = double(softmax_scale(c));
  p.causal = c.causal;
  p.window_left = int(c.window_left);
  p.softcap = cudnn ? 0.0 : double(c.softcap);
  p.sink_logits = s.sinks;
  int64_t st[3], kst[3];
  dense_strides(c.seqlen_q, c.heads_q, c.head_dim, st);
  kv_strides(c, kst);
  for (int i = 0; i < 3; ++i) {
    p.q_stride[i] = st[i];
    p.k_stride[i] = p.v_stride[i] = kst[i];
  }
  if (c.varlen()) {
    p.cu_seqlens_q = p.cu_seqlens_k = s.cu;
    p.max_seqlen_q = p.max_seqlen_k = int(c.seqlen_q);
    p.total_q = p.total_k = s.cu.back();
    p.q_stride[0] = 0;
  } else {
    p.seqlen_q = int(c.seqlen_q);
    p.seqlen_k = int(c.seqlen_k);
  }
  if (c.paged()) {
    p.block_table = cs.page_table_host;
    p.page_size = int(c.page_size);
    p.max_blocks_per_seq = int(c.blocks_per_seq());
    p.num_pages = int(c.num_pages());
  }
  return p;
}

class AttnFamily final : public Family {
 public:
  const char* id() const override { return "attn"; }

  std::string ours_prepare(const Case& c, const SetView&, OursPlan* plan) const override {
    plan->family_state = make_state(c);
    if (c.features_off) {  // the EXT row with every feature off, through fwd_with_row
      const std::string name = "fmha_fwd_d" + std::to_string(c.head_dim) + "_ext_" +
                               (g_dev.arch ? g_dev.arch : "none");
      plan->kernel = forward_row_named(name);
      plan->forced = true;
      return plan->kernel ? "" : "no feature row " + name + " on this device";
    }
    plan->kernel = ptxfmha::find_attn_row(g_dev.sm, int(c.head_dim), case_features(c));
    if (plan->kernel == nullptr)
      return "no ptx-fmha forward row with " + ptxfmha::attn_feature_names(case_features(c)) + " for head_dim " +
             std::to_string(c.head_dim) + " on " + (g_dev.arch ? g_dev.arch : "this device");
    return "";
  }

  std::string ours_launch(const Case& c, const OursPlan& plan, const SetView& v) const override {
    // features off: the fwd family's call on the forced EXT row (fwd_with_row)
    if (c.features_off) return family_for("fwd")->ours_launch(c, plan, v);
    const AttnState& s = *static_cast<const AttnState*>(plan.family_state.get());
    const ptxfmha_attn_params a = attn_params(c, s, v);
    return status_message("ptxfmha_attn", ptxfmha_attn(&a));
  }

  SdpaProblem cudnn_problem(const Case& c) const override {
    SdpaProblem p = Family::cudnn_problem(c);
    if (c.features_off) return p;
    const std::shared_ptr<AttnState> s = state_of(c);
    if (c.paged()) {
      kv_strides(c, p.k_stride);
      kv_strides(c, p.v_stride);
      p.page_size = c.page_size;
      p.num_pages = c.num_pages();
      p.table_cols = c.blocks_per_seq();
    }
    p.lse = with_lse(c);
    p.ragged = c.varlen();
    if (p.ragged && s) {
      p.ragged_q = static_cast<const int32_t*>(s->ragged_q.get());
      p.ragged_kv = static_cast<const int32_t*>(s->ragged_kv.get());
      p.seq_len_q = p.seq_len_kv = static_cast<const int32_t*>(s->seq_len_dev.get());
    }
    p.window_left = c.window_left;
    p.sink = c.sinks;
    if (p.sink && s) {
      p.sink_logits = static_cast<const float*>(s->sinks_dev.get());
    }
    // softcap where cuDNN can express it (SdpaProblem::softcap_expressible: no mask); the masked
    // softcap cells run cuDNN without the cap (same_problem_as_cudnn is false there)
    if (p.softcap_expressible()) p.softcap = c.softcap;
    return p;
  }

  // The reference of cuDNN's side differs from ours (no cap) exactly when cuDNN lacks the cap.
  bool cudnn_lacks_softcap(const Case& c) const { return c.softcap > 0 && cudnn_problem(c).softcap <= 0; }

  bool same_problem_as_cudnn(const Case& c) const override { return !cudnn_lacks_softcap(c); }

  bool reference_check(const Case& c, CaseState& cs, int side, Agreement* out) const override {
    if (c.features_off) return false;  // a plain problem: the dense sampled reference
    const std::shared_ptr<AttnState> s = state_of(c);
    if (!s) return false;
    const Arena& a = arena_for(c);
    const int which = (side == kCudnn && cudnn_lacks_softcap(c)) ? 1 : 0;
    if (!s->ref_ready[which]) {
      // Set 0's inputs on the host (packed / dense / pool exactly as stored).
      std::vector<uint16_t> q(std::size_t(c.q_elems())), k(std::size_t(c.kv_elems())), v(k.size());
      download(q.data(), a.q.ptr(), q.size() * 2);
      download(k.data(), a.k.ptr(), k.size() * 2);
      download(v.data(), a.v.ptr(), v.size() * 2);
      ptxfmha::RefAttnProblem p = ref_problem(c, *s, cs, which == 1);
      // Sampled rows: the first and last 8 of the first, a middle and the last sequence.
      p.row_mask.assign(std::size_t(c.q_rows()), 0);
      s->picked.clear();
      for (int64_t b : {int64_t(0), c.batch / 2, c.batch - 1}) {
        const int64_t r0 = c.varlen() ? s->cu[std::size_t(b)] : b * c.seqlen_q;
        const int64_t len = c.varlen() ? c.seqlens[std::size_t(b)] : c.seqlen_q;
        for (int64_t i = 0; i < len; ++i)
          if ((i < 8 || i >= len - 8) && !p.row_mask[std::size_t(r0 + i)]) {
            p.row_mask[std::size_t(r0 + i)] = 1;
            s->picked.push_back(r0 + i);
          }
      }
      ptxfmha::reference_attn(p, q.data(), k.data(), v.data(), &s->ref[which]);
      s->ref_ready[which] = true;
    }
    const ptxfmha::RefAttnResult& ref = s->ref[which];
    const std::vector<int64_t>& picked = s->picked;
    const bool ours = side == kOurs;
    const int64_t H = c.heads_q, D = c.head_dim;
    std::vector<double> got, want;
    std::vector<float> lse_got;
    std::vector<double> lse_want;
    std::vector<uint16_t> orow(std::size_t(H * D));
    for (int64_t r : picked) {
      download(orow.data(), (ours ? a.o_ours : a.o_cudnn).ptr() + std::size_t(r * H * D) * 2, orow.size() * 2);
      for (int64_t e = 0; e < H * D; ++e) {
        got.push_back(float_from_bf16(orow[std::size_t(e)]));
        want.push_back(ref.o[std::size_t(r * H * D + e)]);
      }
      if (!with_lse(c)) continue;
      const int64_t b = r / c.seqlen_q, i = r % c.seqlen_q;
      for (int64_t h = 0; h < H; ++h) {
        const std::size_t li = std::size_t((b * H + h) * c.seqlen_q + i);
        float x = 0;
        download(&x, (ours ? a.lse_ours : a.lse_cudnn).ptr() + li * 4, 4);
        lse_got.push_back(x);
        lse_want.push_back(ref.lse[li]);
      }
    }
    *out = compare_double(got.data(), want.data(), got.size());
    if (!lse_got.empty()) compare_lse(lse_got.data(), lse_want.data(), lse_got.size(), out);
    return true;
  }
};

const FamilyRegistrar kAttn(std::make_unique<AttnFamily>());

}  // namespace
}  // namespace ptxfmha_bench
