// Float64 CPU reference attention, shared by tests/, bench/ and tools/.
// Inputs are bf16 bit patterns (uint16_t) in the same strided layouts as ptxfmha_fwd_params.
#pragma once
#include <cstdint>
#include <vector>

namespace ptxfmha {

float bf16_to_float(uint16_t b);
uint16_t float_to_bf16(float f);  // round to nearest even; NaN stays NaN

struct RefShape {
  int batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim;
  bool causal;          // bottom-right aligned
  double softmax_scale;
  // element strides: batch, seq, head (head_dim contiguous)
  int64_t q_stride[3], k_stride[3], v_stride[3];
};

// out: dense [batch, seqlen_q, heads_q, head_dim] float64; lse: [batch, heads_q, seqlen_q]
// natural log. Rows that see no key: out = 0, lse = -inf.
void reference_fwd(const RefShape& s, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                   std::vector<double>& out, std::vector<double>& lse);

// Error figures of a result against the reference (both dense, same length).
struct ErrorStats {
  double max_abs = 0, rel_l2 = 0, cosine = 0;
  long long nan_count = 0;
  long long first_bad = -1;  // first index whose |a-b| > abs_tol + rel_tol*|b|, -1 if none
};
ErrorStats compare(const double* got, const double* ref, std::size_t n,
                   double abs_tol = 2e-2, double rel_tol = 2e-2);

// ---- Backward reference (reference_bwd.cpp) ---------------------------------------------
// Attention gradients in float64: dQ, dK, dV of L = sum(dO * O), O = softmax(scale Q K^T) V,
// with the forward's conventions (bottom-right causal, GQA: kv head = q head / (heads_q /
// heads_kv)). dK and dV of a KV head sum over its query heads; a query row that sees no key
// contributes nothing (its dQ row is 0). P is the exact softmax (its own row max and sum),
// D = rowsum(dO * O) with the exact O, so the result is the true gradient at the given inputs.
struct RefBwdShape {
  RefShape s;                // sizes, causal, scale, q/k/v strides
  int64_t do_stride[3];      // dO element strides (batch, seq, head)
};
// Inputs as bf16 bit patterns in their strided layouts. Outputs dense:
//   dq [batch, seqlen_q, heads_q, head_dim], dk / dv [batch, seqlen_k, heads_kv, head_dim];
//   dsum (optional) [batch, heads_q, seqlen_q]: D = rowsum(dO * O) (0 for rows without keys).
void reference_bwd(const RefBwdShape& s, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                   const uint16_t* dout, std::vector<double>& dq, std::vector<double>& dk,
                   std::vector<double>& dv, std::vector<double>* dsum = nullptr);
// The same from float64 inputs in the same strided layouts (the finite-difference test
// perturbs these).
void reference_bwd_f64(const RefBwdShape& s, const double* q, const double* k, const double* v,
                       const double* dout, std::vector<double>& dq, std::vector<double>& dk,
                       std::vector<double>& dv, std::vector<double>* dsum = nullptr);
// Forward from float64 inputs (strided as RefShape says): out dense [batch, seqlen_q, heads_q,
// head_dim], lse [batch, heads_q, seqlen_q] (-inf for rows without keys, whose out is 0).
void reference_fwd_f64(const RefShape& s, const double* q, const double* k, const double* v,
                       std::vector<double>& out, std::vector<double>& lse);

}  // namespace ptxfmha
