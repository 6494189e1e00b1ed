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

}  // namespace ptxfmha
