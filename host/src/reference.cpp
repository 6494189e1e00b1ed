// Float64 CPU reference attention and error figures. See host/include/ptxfmha/reference.h.
//
// reference_fwd is reference_attn (reference_attn.cpp) on fixed layouts without features,
// one task per (batch, query head): the head's visible K and V rows are widened to float64
// once into contiguous buffers, then every query row streams over them (scores, max,
// exp-sum, weighted V sum). (batch, head) pairs are spread over std::thread workers when the
// problem is big enough.
//
// compare() semantics beyond the header:
//   - a pair with got == ref (equal infinities included, e.g. LSE = -inf of a row that sees
//     no key) counts as exact; infinities never enter the norms.
//   - NaN in got or ref: counted in nan_count, treated as bad (first_bad), and max_abs,
//     rel_l2 and cosine are all NaN, so no threshold check on them can pass.
//   - a mismatched infinity makes max_abs and rel_l2 +inf and cosine 0.
//   - rel_l2 = ||got-ref|| / ||ref||; 0 when both are 0, +inf when only ref is 0.
//   - cosine = <got,ref> / (||got|| ||ref||); 1 when both are all zero, 0 when one is.
#include "ptxfmha/reference.h"
#include "reference_attn.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

namespace ptxfmha {

float bf16_to_float(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u)  // NaN: keep sign and top payload, force quiet bit
    return static_cast<uint16_t>((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest, ties to even (overflow -> inf)
  return static_cast<uint16_t>(u >> 16);
}

void reference_fwd(const RefShape& s, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                   std::vector<double>& out, std::vector<double>& lse) {
  RefAttnProblem p;
  p.batch = s.batch;
  p.seqlen_q = s.seqlen_q;
  p.seqlen_k = s.seqlen_k;
  p.heads_q = s.heads_q;
  p.heads_kv = s.heads_kv;
  p.head_dim = s.head_dim;
  p.causal = s.causal;
  p.softmax_scale = s.softmax_scale;
  for (int i = 0; i < 3; ++i) {
    p.q_stride[i] = s.q_stride[i];
    p.k_stride[i] = s.k_stride[i];
    p.v_stride[i] = s.v_stride[i];
  }
  RefAttnResult r;
  reference_attn_impl(p, q, k, v, &r, /*split_rows=*/false, "reference_fwd");
  out = std::move(r.o);
  lse = std::move(r.lse);
}

ErrorStats compare(const double* got, const double* ref, std::size_t n, double abs_tol,
                   double rel_tol) {
  ErrorStats e;
  double num = 0, den = 0, dot = 0, ng = 0;
  bool inf_mismatch = false;
  for (std::size_t i = 0; i < n; ++i) {
    const double a = got[i], b = ref[i];
    if (std::isnan(a) || std::isnan(b)) {
      ++e.nan_count;
      if (e.first_bad < 0) e.first_bad = static_cast<long long>(i);
      continue;
    }
    if (a == b) {  // exact, including equal infinities
      if (std::isfinite(a)) {
        den += b * b;
        ng += a * a;
        dot += a * b;
      }
      continue;
    }
    const double diff = std::fabs(a - b);
    const bool bad = !std::isfinite(diff) || !(diff <= abs_tol + rel_tol * std::fabs(b));
    if (bad && e.first_bad < 0)
      e.first_bad = static_cast<long long>(i);
    e.max_abs = std::max(e.max_abs, diff);
    if (!std::isfinite(a) || !std::isfinite(b)) {
      inf_mismatch = true;
      continue;
    }
    num += diff * diff;
    den += b * b;
    ng += a * a;
    dot += a * b;
  }
  if (e.nan_count > 0) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    e.max_abs = e.rel_l2 = e.cosine = nan;
    return e;
  }
  if (inf_mismatch) {
    e.max_abs = e.rel_l2 = std::numeric_limits<double>::infinity();
    e.cosine = 0;
    return e;
  }
  e.rel_l2 = den > 0 ? std::sqrt(num) / std::sqrt(den)
                     : (num > 0 ? std::numeric_limits<double>::infinity() : 0.0);
  if (ng == 0 && den == 0) e.cosine = 1;
  else if (ng == 0 || den == 0) e.cosine = 0;
  else e.cosine = dot / (std::sqrt(ng) * std::sqrt(den));
  return e;
}

}  // namespace ptxfmha
