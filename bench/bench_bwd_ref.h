// Float64 gradients of sampled rows of an attention backward problem: the benchmark's
// correctness gate for the backward cells (bench/family_bwd.cpp) and the backward GPU tests.
// Pure code, no device (tests/test_cpu_bwd_bench.cpp compares it with ptxfmha::reference_bwd).
//
// The gradients *of the inputs a backward kernel gets* (ptx-fmha's and cuDNN's alike): Q, K, V,
// O, dO (bf16) and the forward's LSE (fp32, natural log):
//   P_ij = exp(scale q_i.k_j - lse_i) for visible keys (bottom-right causal: j <= i + sk - sq)
//   D_i  = dO_i . O_i                    dS_ij = P_ij (dO_i.v_j - D_i)
//   dQ_i = scale sum_j dS_ij k_j         dK_j = scale sum_i dS_ij q_i   dV_j = sum_i P_ij dO_i
// with dK, dV summed over every query head of the key's GQA group; rows with lse = -inf (no
// key) contribute nothing. One batch at a time.
#pragma once

#include <cstdint>
#include <vector>

namespace ptxfmha_bench {

struct BwdRefShape {
  int64_t seqlen_q = 0, seqlen_k = 0, heads_q = 0, heads_kv = 0, head_dim = 0;
  bool causal = false;
  double softmax_scale = 0;
};

// Which rows: dQ of query rows [q0, q0 + nq), dK and dV of keys [k0, k0 + nk).
struct BwdRefRows {
  int64_t q0 = 0, nq = 0, k0 = 0, nk = 0;
};

struct BwdRefOut {
  std::vector<double> dq;      // [nq, heads_q, head_dim]
  std::vector<double> dk, dv;  // [nk, heads_kv, head_dim]
};

// Inputs of one batch, dense: q, o, dout [seqlen_q, heads_q, head_dim]; k, v [seqlen_k,
// heads_kv, head_dim] (bf16 bit patterns); lse [heads_q, seqlen_q]. Threads over query heads.
void bwd_reference_rows(const BwdRefShape& s, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                        const uint16_t* o, const uint16_t* dout, const float* lse, const BwdRefRows& rows,
                        BwdRefOut* out);

}  // namespace ptxfmha_bench
