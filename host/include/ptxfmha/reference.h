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

// ---- every feature of ptxfmha_attn / ptxfmha_decode_attn ---------------------------------
// The semantics are those of host/include/ptxfmha/ptxfmha.h ("Sequences and lengths",
// "Visibility", "Scores and softmax", and the clamping of device metadata), computed in
// float64 from bf16 inputs. reference_fwd is this function on fixed layouts; decode is it
// with fixed Q [batch, seqlen_q], K contiguous [batch, max_seqlen_k] or paged, and
// seqused_k = seqlens_k (clamped to [0, max_seqlen_k] like every seqused_k).
struct RefAttnProblem {
  int batch = 0, heads_q = 0, heads_kv = 0, head_dim = 0;
  double softmax_scale = 0;
  bool causal = false;            // == window_right 0 (window_right must then be -1 or 0)
  int window_left = -1, window_right = -1;
  double softcap = 0;             // 0 = off
  std::vector<float> sink_logits;   // empty = none, else [heads_q]
  std::vector<float> alibi_slopes;  // empty = none, else [heads_q]

  // Q / O / LSE: fixed [batch, seqlen_q] when cu_seqlens_q is empty, else packed
  // [total_q] rows with sequence b at [cu_seqlens_q[b], cu_seqlens_q[b + 1]).
  int seqlen_q = 0;
  std::vector<int32_t> cu_seqlens_q;  // empty or batch + 1 entries (any values: clamped)
  int max_seqlen_q = 0, total_q = 0;
  int64_t q_stride[3] = {0, 0, 0};    // batch (unused when packed), seq, head; elements

  // K / V: fixed [batch, seqlen_k], packed (cu_seqlens_k) [total_k], or paged
  // (page_size > 0) [num_pages, page_size] with block_table [batch, max_blocks_per_seq]
  // (ids outside [0, num_pages) read as zeros). seqused_k optional.
  int seqlen_k = 0;
  std::vector<int32_t> cu_seqlens_k;
  int max_seqlen_k = 0, total_k = 0;
  std::vector<int32_t> seqused_k;     // empty or batch entries
  std::vector<int32_t> block_table;
  int page_size = 0, max_blocks_per_seq = 0, num_pages = 0;
  int64_t k_stride[3] = {0, 0, 0};    // paged: k_stride[0] is the page stride
  int64_t v_stride[3] = {0, 0, 0};

  // Optional: the query rows to compute (the GPU suites sample rows of large problems). Empty:
  // every row; else one entry per output row (fixed: b * seqlen_q + i; packed: the packed row),
  // 0 = skipped: its o and lse stay NaN (writers and visible are still filled).
  std::vector<uint8_t> row_mask;
};

struct RefAttnResult {
  // Fixed Q: o dense [batch, seqlen_q, heads_q, head_dim], lse [batch, heads_q, seqlen_q].
  // Packed Q: o dense [total_q, heads_q, head_dim], lse [heads_q, total_q].
  std::vector<double> o, lse;
  // Per query row (fixed: b * seqlen_q + i; packed: the packed row): how many sequences
  // write it (0: no sequence covers it, the kernels leave it as it was, o and lse are NaN
  // here; 1: normal; >= 2 only with overlapping offsets, where the kernels' result is
  // unspecified and the reference keeps the last sequence's).
  std::vector<uint8_t> writers;
  // Per query row: how many keys it sees (0: O = 0 and LSE = -inf or the sink). Of the last
  // writer where several write the row; 0 where none does.
  std::vector<int32_t> visible;
  // Per LSE entry (lse's layout), filled by reference_attn_e4m3 with with_logit_mag only (empty
  // elsewhere): the log-sum-exp over the keys the row sees of |q| |k| softmax_scale (sum over d
  // of |q_d k_d| times the scale, k the dequantised key; no softcap, ALiBi or sink), so at least the
  // largest of them and at most that plus ln(keys): the scale of the e4m3 products' error
  // (ptxfmha.h, kv_dtype). -inf where the row sees no key, NaN where o is.
  std::vector<double> logit_mag;
};

// Throws std::invalid_argument for shapes ptxfmha_attn would reject on the host (negative
// sizes, head counts, array sizes that do not match batch / heads_q, a window < -1, causal
// with window_right > 0, softcap < 0, a paged table too short for seqlen_k). Threads over
// (sequence, head, block of rows) when the problem is large.
void reference_attn(const RefAttnProblem& p, const uint16_t* q, const uint16_t* k,
                    const uint16_t* v, RefAttnResult* out);

// RefAttnResult::writers of reference_attn without computing anything (cheap).
std::vector<uint8_t> attn_row_writers(const RefAttnProblem& p);

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
// contributes nothing (its dQ row is 0). P is the exact softmax (its own row max and sum).
// D = rowsum(dO * O): with the exact O by default (the true gradient at the given Q, K, V, dO),
// or with the O the caller gives (RefBwdShape::o), as every backward kernel does with the O
// its forward stored (ptxfmha_bwd, FlashAttention, cuDNN): the gradient *of those inputs*,
// which the GPU tests compare with. The two differ by dS_ij = -P_ij dO_i . (O_i - O_given_i)
// (the given O's bf16 rounding), which is large next to the kernels' own rounding on rows that
// see few keys (tests/test_cpu_bwd_numerics.cpp).
// The serving features (ptxfmha.h "Visibility", "Scores and softmax", as ptxfmha_bwd_params
// takes them): a window (bottom-right, -1 = unbounded side; causal = window_right 0, which must
// then be -1 or 0), softcap (0 = off), ALiBi slopes and sink logits ([heads_q], empty = none).
// With sinks, reference_bwd also gives d_sink [heads_q] = dL/d sink_logits.
struct RefBwdShape {
  RefShape s;                // sizes, causal, scale, q/k/v strides
  int64_t do_stride[3];      // dO element strides (batch, seq, head)
  const uint16_t* o = nullptr;        // optional given O (bf16), strides o_stride; reference_bwd only
  int64_t o_stride[3] = {0, 0, 0};
  int window_left = -1, window_right = -1;
  double softcap = 0;
  std::vector<float> alibi_slopes, sink_logits;
};
// Per output element, the sizes an error bound of a bf16 backward is made of (dense, as the
// gradients; tests/bwd_test_util.h says how they are used):
//   dq_l2, dk_l2, dv_l2   sqrt of the sum of the squares of the products the element sums:
//                         dq[i,d]: scale ds_ij k_jd over keys j; dk[j,d]: scale ds_ij q_id over
//                         rows i (of every query head of the group); dv[j,d]: p_ij dO_id
//   dq_floor, dk_floor    the fp32 noise of ds: ds_ij = p_ij (dp_ij - D_i) cancels, so a kernel's
//                         ds carries an absolute error ~ eps32 * p_ij * w_ij with
//                         w_ij = sum_d |dO_id v_jd| + sum_d |dO_id o_id| (the two dot products'
//                         magnitudes); dq_floor[i,d] = scale sum_j p_ij w_ij |k_jd|,
//                         dk_floor[j,d] = scale sum_i p_ij w_ij |q_id|
struct RefBwdTerms {
  std::vector<double> dq_l2, dk_l2, dv_l2, dq_floor, dk_floor;
};
// Inputs as bf16 bit patterns in their strided layouts. Outputs dense:
//   dq [batch, seqlen_q, heads_q, head_dim], dk / dv [batch, seqlen_k, heads_kv, head_dim];
//   dsum (optional) [batch, heads_q, seqlen_q]: D = rowsum(dO * O) (0 for rows without keys
//   and no sink);
//   terms (optional): as above;
//   d_sink (optional) [heads_q]: the sink logits' gradient (0 without sinks).
void reference_bwd(const RefBwdShape& s, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                   const uint16_t* dout, std::vector<double>& dq, std::vector<double>& dk,
                   std::vector<double>& dv, std::vector<double>* dsum = nullptr,
                   RefBwdTerms* terms = nullptr, std::vector<double>* d_sink = nullptr);
// The same from float64 inputs in the same strided layouts (the finite-difference test
// perturbs these); always the exact O (RefBwdShape::o is ignored).
void reference_bwd_f64(const RefBwdShape& s, const double* q, const double* k, const double* v,
                       const double* dout, std::vector<double>& dq, std::vector<double>& dk,
                       std::vector<double>& dv, std::vector<double>* dsum = nullptr,
                       std::vector<double>* d_sink = nullptr);
// Variable-length (packed) batches, as ptxfmha_bwd takes them: sequence b owns packed query
// rows [cu_q[b], cu_q[b + 1]) and key rows [cu_k[b], cu_k[b] + len_k[b]) (len_k[b] <= cu_k[b + 1]
// - cu_k[b]: seqused_k, the keys present), each an independent problem of
// reference_bwd with s's heads, head dim, scale, causal and features (s.s.batch, seqlen_q,
// seqlen_k and the batch strides are ignored; q / k / v / dout / s.o are the packed tensors
// with s's seq and head strides). Outputs dense packed: dq [cu_q[batch], heads_q, head_dim],
// dk / dv [cu_k[batch], heads_kv, head_dim] (0 for key rows of a sequence without query rows,
// and for rows past len_k[b], which no query sees); dsum (optional) [heads_q, cu_q[batch]];
// terms as reference_bwd's, packed the same way; d_sink the sum over the sequences.
void reference_bwd_varlen(const RefBwdShape& s, const std::vector<int>& cu_q, const std::vector<int>& cu_k,
                          const std::vector<int>& len_k, const uint16_t* q, const uint16_t* k,
                          const uint16_t* v, const uint16_t* dout, std::vector<double>& dq,
                          std::vector<double>& dk, std::vector<double>& dv,
                          std::vector<double>* dsum = nullptr, RefBwdTerms* terms = nullptr,
                          std::vector<double>* d_sink = nullptr);
// Forward from float64 inputs (strided as RefShape says): out dense [batch, seqlen_q, heads_q,
// head_dim], lse [batch, heads_q, seqlen_q] (-inf for rows without keys, whose out is 0).
void reference_fwd_f64(const RefShape& s, const double* q, const double* k, const double* v,
                       std::vector<double>& out, std::vector<double>& lse);
// The same with RefBwdShape's features (a row without keys but with a sink: out 0, lse = the
// sink logit).
void reference_fwd_f64(const RefBwdShape& s, const double* q, const double* k, const double* v,
                       std::vector<double>& out, std::vector<double>& lse);

}  // namespace ptxfmha
