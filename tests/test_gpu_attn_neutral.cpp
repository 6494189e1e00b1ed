// GPU tests (suite "gpu-fwd"): the sm90a feature rows against the plain kernels, bitwise. A
// feature that changes nothing must change no bit, because the feature rows run the plain
// rows' arithmetic in the same order (ptx/body/sm90_fwd: the hooks add instructions around it,
// never inside it). So, on the same inputs as a plain ptxfmha_fwd call:
//   - fwd_with_row on the EXT and on the PAGED row with every feature off (the "features
//     off" path the bench's A/B times);
//   - ptxfmha_attn with neutral features, one at a time and all at once: ALiBi slopes 0, sink
//     logits -inf, seqused_k = seqlen_k (the V tail fix runs), variable-length Q and K of equal
//     lengths (packed = the same memory; per-sequence tile order, per-row O stores at the
//     sequence ends), paged K/V through a shuffled block table (pages of 16 and 64; boxes, the
//     V tail fix);
// must equal it bit for bit (O, and LSE re-indexed for the packed layout). A plumbing error
// (a coordinate, a stride, a slot field, a barrier) shows as the first differing element
// with its position; the plain result itself is checked against the float64 reference once.
//
// Run: build/tests/ptxfmha_tests -ts=gpu-fwd -tc="gpu attn neutral*"
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "attn_util.h"
#include "fwd.h"

using namespace ptxfmha_test;

namespace {

struct Shape {
  int b, sq, sk, hq, hkv;
  bool causal;
};

// First differing index of two equal-length arrays of bit patterns, -1 if none.
template <class T>
long long first_diff(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return static_cast<long long>(i);
  return -1;
}

std::string o_where(const FwdProblem& p, long long i) {
  if (i < 0) return "-";
  const long long d = i % p.head_dim, h = (i / p.head_dim) % p.heads_q;
  const long long s = (i / p.head_dim / p.heads_q) % p.seqlen_q, b = i / p.head_dim / p.heads_q / p.seqlen_q;
  return "(batch " + std::to_string(b) + " row " + std::to_string(s) + " head " + std::to_string(h) + " d " +
         std::to_string(d) + ")";
}

// The same device buffers as ptxfmha_attn params (fixed layouts, no features).
ptxfmha_attn_params as_attn(const ptxfmha_fwd_params& f) {
  ptxfmha_attn_params a;
  ptxfmha_attn_params_init(&a);
  a.q = f.q; a.k = f.k; a.v = f.v; a.o = f.o; a.lse = f.lse;
  a.q_batch_stride = f.q_batch_stride; a.q_seq_stride = f.q_seq_stride; a.q_head_stride = f.q_head_stride;
  a.k_batch_stride = f.k_batch_stride; a.k_seq_stride = f.k_seq_stride; a.k_head_stride = f.k_head_stride;
  a.v_batch_stride = f.v_batch_stride; a.v_seq_stride = f.v_seq_stride; a.v_head_stride = f.v_head_stride;
  a.o_batch_stride = f.o_batch_stride; a.o_seq_stride = f.o_seq_stride; a.o_head_stride = f.o_head_stride;
  a.batch = f.batch; a.seqlen_q = f.seqlen_q; a.seqlen_k = f.seqlen_k;
  a.heads_q = f.heads_q; a.heads_kv = f.heads_kv; a.head_dim = f.head_dim;
  a.softmax_scale = f.softmax_scale; a.causal = f.causal; a.stream = f.stream;
  return a;
}

class NeutralCase {
 public:
  NeutralCase(const FwdProblem& p, uint64_t seed) : p_(p), in_(random_inputs(p, seed)), dev_(p, in_) {
    dev_.run(&plain_);
    std::vector<float> zeros(std::size_t(p.heads_q), 0.0f), ninf(std::size_t(p.heads_q), -INFINITY);
    upload(slopes_, zeros);
    upload(sinks_, ninf);
    upload(used_, std::vector<int32_t>(std::size_t(p.batch), p.seqlen_k));
    std::vector<int32_t> cq(std::size_t(p.batch) + 1), ck(std::size_t(p.batch) + 1);
    for (int b = 0; b <= p.batch; ++b) {
      cq[std::size_t(b)] = b * p.seqlen_q;
      ck[std::size_t(b)] = b * p.seqlen_k;
    }
    upload(cu_q_, cq);
    upload(cu_k_, ck);
    lse_packed_.alloc(std::size_t(std::max<int64_t>(p.lse_elems(), 1)) * 4);
  }
  const FwdOutputs& plain() const { return plain_; }

  // Runs `a` (poisoned outputs first), returns its outputs with LSE in the fixed layout.
  FwdOutputs run_attn(ptxfmha_attn_params a, const std::string& what) {
    dev_.poison();
    lse_packed_.fill32(kPoisonF32, std::size_t(std::max<int64_t>(p_.lse_elems(), 1)));
    const bool packed = a.cu_seqlens_q != nullptr;
    if (packed) a.lse = static_cast<float*>(lse_packed_.get());
    const ptxfmha_status st = ptxfmha_attn(&a);
    CHECK_MESSAGE(st == PTXFMHA_OK, what << ": " << str(ptxfmha_status_string(st)) << ": " << str(ptxfmha_last_error()));
    PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
    FwdOutputs out;
    dev_.download(&out);
    if (packed) {  // [heads_q, total_q] -> [batch, heads_q, seqlen_q]
      std::vector<float> pk;
      lse_packed_.download(pk, std::size_t(p_.lse_elems()));
      for (int b = 0; b < p_.batch; ++b)
        for (int h = 0; h < p_.heads_q; ++h)
          for (int i = 0; i < p_.seqlen_q; ++i)
            out.lse[(std::size_t(b) * p_.heads_q + h) * p_.seqlen_q + i] =
                pk[std::size_t(h) * p_.batch * p_.seqlen_q + std::size_t(b) * p_.seqlen_q + i];
    }
    return out;
  }
  void expect_equal(const FwdOutputs& got, const std::string& what) {
    const long long o = first_diff(got.o, plain_.o), l = first_diff(got.lse, plain_.lse);
    CHECK_MESSAGE(o < 0, what << ": O differs from ptxfmha_fwd's first at element " << o << " " << o_where(p_, o)
                              << ": " << (o >= 0 ? ptxfmha::bf16_to_float(got.o[std::size_t(o)]) : 0.f) << " vs "
                              << (o >= 0 ? ptxfmha::bf16_to_float(plain_.o[std::size_t(o)]) : 0.f));
    CHECK_MESSAGE(l < 0, what << ": LSE differs from ptxfmha_fwd's first at [batch, head, row] index " << l << ": "
                              << (l >= 0 ? got.lse[std::size_t(l)] : 0.f) << " vs "
                              << (l >= 0 ? plain_.lse[std::size_t(l)] : 0.f));
  }

  ptxfmha_attn_params base() const { return as_attn(dev_.params()); }
  ptxfmha_attn_params with_alibi0(ptxfmha_attn_params a) const { a.alibi_slopes = static_cast<const float*>(slopes_.get()); return a; }
  ptxfmha_attn_params with_sinks_ninf(ptxfmha_attn_params a) const { a.sink_logits = static_cast<const float*>(sinks_.get()); return a; }
  ptxfmha_attn_params with_used(ptxfmha_attn_params a) const { a.seqused_k = static_cast<const int32_t*>(used_.get()); return a; }
  // Packed Q/O and K/V over the same dense BSHD memory (batch stride = seqlen x seq stride).
  ptxfmha_attn_params with_varlen(ptxfmha_attn_params a, bool keys = true) const {
    a.cu_seqlens_q = static_cast<const int32_t*>(cu_q_.get());
    a.max_seqlen_q = a.seqlen_q; a.total_q = a.batch * a.seqlen_q; a.seqlen_q = 0;
    a.q_batch_stride = a.o_batch_stride = 0;
    if (keys) {
      a.cu_seqlens_k = static_cast<const int32_t*>(cu_k_.get());
      a.max_seqlen_k = a.seqlen_k; a.total_k = a.batch * a.seqlen_k; a.seqlen_k = 0;
      a.k_batch_stride = a.v_batch_stride = 0;
    }
    return a;
  }
  // K and V copied into a pool of pages of `ps` keys in shuffled order, with a block table.
  ptxfmha_attn_params with_pages(ptxfmha_attn_params a, int ps, uint64_t seed) {
    const int per_seq = (p_.seqlen_k + ps - 1) / ps, pages = p_.batch * per_seq + 2;
    const Layout pool = make_layout(pages, ps, p_.heads_kv, p_.head_dim);
    std::vector<int32_t> perm(static_cast<std::size_t>(pages));
    std::iota(perm.begin(), perm.end(), 0);
    std::mt19937_64 rng(seed);
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<uint16_t> hk(std::size_t(pool.elems), kNaNBf16), hv(std::size_t(pool.elems), kNaNBf16);
    std::vector<int32_t> table(std::size_t(p_.batch) * per_seq);
    for (int b = 0; b < p_.batch; ++b)
      for (int i = 0; i < per_seq; ++i) {
        const int32_t id = perm[std::size_t(b) * per_seq + i];
        table[std::size_t(b) * per_seq + i] = id;
        for (int r = 0; r < ps && i * ps + r < p_.seqlen_k; ++r)
          for (int h = 0; h < p_.heads_kv; ++h)
            for (int d = 0; d < p_.head_dim; ++d) {
              hk[std::size_t(elem_index(pool, id, r, h, d))] = in_.k[std::size_t(elem_index(p_.k, b, i * ps + r, h, d))];
              hv[std::size_t(elem_index(pool, id, r, h, d))] = in_.v[std::size_t(elem_index(p_.v, b, i * ps + r, h, d))];
            }
      }
    upload(pool_k_, hk);
    upload(pool_v_, hv);
    upload(table_, table);
    a.k = pool_k_.get(); a.v = pool_v_.get();
    a.k_batch_stride = a.v_batch_stride = pool.stride[0];
    a.k_seq_stride = a.v_seq_stride = pool.stride[1];
    a.k_head_stride = a.v_head_stride = pool.stride[2];
    a.block_table = static_cast<const int32_t*>(table_.get());
    a.page_size = ps; a.max_blocks_per_seq = per_seq; a.num_pages = pages;
    return a;
  }

 private:
  template <class T> static void upload(DeviceBuffer& b, const std::vector<T>& v) {
    b.alloc(std::max<std::size_t>(v.size(), 1) * sizeof(T));
    b.upload(v);
  }
  FwdProblem p_;
  FwdHostInputs in_;
  FwdDeviceCase dev_;
  FwdOutputs plain_;
  DeviceBuffer slopes_, sinks_, used_, cu_q_, cu_k_, lse_packed_, pool_k_, pool_v_, table_;
};

const ptxfmha::KernelInfo* row_named(const std::string& name) {
  for (const ptxfmha::KernelInfo* r : ptxfmha::all_kernels())
    if (name == r->name) return r;
  return nullptr;
}

}  // namespace

TEST_CASE("gpu attn neutral: feature rows with neutral features == ptxfmha_fwd bitwise" * doctest::test_suite("gpu-fwd")) {
  REQUIRE(ensure_context());
  const auto rows = testable_fwd_rows();
  REQUIRE(!rows.empty());
  const Shape shapes[] = {{2, 129, 1000, 4, 2, true}, {2, 129, 1000, 4, 2, false}, {1, 1000, 1000, 8, 8, true},
                          {3, 1, 77, 2, 1, true},      {1, 200, 63, 2, 2, true},     {1, 300, 4097, 4, 1, false}};
  int compared = 0;
  uint64_t seed = 0xE0E0;
  for (const ptxfmha::KernelInfo* plain_row : rows) {
    const int d = plain_row->head_dim;
    const std::string arch = plain_row->arch;
    const ptxfmha::KernelInfo* ext = row_named("fmha_fwd_d" + std::to_string(d) + "_ext_" + arch);
    const ptxfmha::KernelInfo* paged = row_named("fmha_fwd_d" + std::to_string(d) + "_paged_" + arch);
    // sm_90a: EXT and PAGED rows; sm_100a: the EXT row, which also takes seqused_k and paged
    // K/V (runtime switches, issue 14), so its paged calls run here too; no feature row at all
    // fails (every arch has them now).
    REQUIRE_MESSAGE(ext != nullptr, "no feature row for head dim " << d << " on " << arch);
    const uint32_t have = ptxfmha::attn_supported_features(plain_row->sm);
    const bool used_ok = (have & ptxfmha::kAttnSequsedK) != 0, paged_ok = (have & ptxfmha::kAttnPagedKV) != 0;
    const char* paged_row = paged != nullptr ? "PAGED row" : "EXT row";
    for (const Shape& s : shapes) {
      FwdProblem p = fwd_problem(s.b, s.sq, s.sk, s.hq, s.hkv, d, s.causal);
      NeutralCase nc(p, seed++);
      const std::string where = "d" + std::to_string(d) + " " + describe(p);
      CAPTURE(where);
      if (compared < 3 * int(rows.size())) {  // the plain result itself, against float64 (first shapes)
        const FwdReference ref = reference(p, random_inputs(p, seed - 1));
        const FwdFigures f = evaluate(p, nc.plain(), ref);
        std::string why;
        CHECK_MESSAGE(within_bounds(p, f, nc.plain(), ref, Tolerance(), &why), why);
      }
      // features off on the feature rows
      for (const ptxfmha::KernelInfo* r : {ext, paged}) {
        if (r == nullptr) continue;
        FwdProblem pr = p;
        pr.row = r;
        FwdDeviceCase dc(pr, random_inputs(p, seed - 1));
        FwdOutputs out;
        dc.run(&out);
        nc.expect_equal(out, std::string(r->name) + " features off");
      }
      const ptxfmha_attn_params a = nc.base();
      nc.expect_equal(nc.run_attn(nc.with_alibi0(a), "alibi 0"), "alibi slopes 0 (EXT row)");
      nc.expect_equal(nc.run_attn(nc.with_sinks_ninf(a), "sinks -inf"), "sink logits -inf (EXT row)");
      if (used_ok) nc.expect_equal(nc.run_attn(nc.with_used(a), "seqused_k"), "seqused_k = seqlen_k (EXT row, V tail fix)");
      nc.expect_equal(nc.run_attn(nc.with_varlen(a), "varlen"), "varlen Q/K of equal lengths (EXT row)");
      nc.expect_equal(nc.run_attn(nc.with_varlen(nc.with_sinks_ninf(nc.with_alibi0(a)), false), "varlen+sinks+alibi"),
                      "varlen Q, sinks -inf, ALiBi 0 at once (EXT row)");
      if (!paged_ok) {
        ++compared;
        continue;
      }
      for (int ps : {16, 64})
        nc.expect_equal(nc.run_attn(nc.with_pages(a, ps, seed), "paged"),
                        "paged K/V, page " + std::to_string(ps) + " (" + paged_row + ")");
      nc.expect_equal(
          nc.run_attn(nc.with_pages(nc.with_varlen(nc.with_used(nc.with_sinks_ninf(nc.with_alibi0(a))), false), 64, seed + 1),
                      "all"),
          std::string("all neutral features at once: varlen Q, paged K/V, seqused_k, sinks, ALiBi (") + paged_row + ")");
      ++compared;
    }
  }
  MESSAGE("feature rows bitwise equal to ptxfmha_fwd: " << compared << " shapes x 9 calls");
  CHECK(compared > 0);
}
