// Test helpers of the extensible attention API, part 2 (attn_util.h includes it): the
// evaluation of a device result against the float64 reference (evaluate_attn, the bounds of
// attn_within_bounds, positions named per sequence / row / head, the worst figures per key).
// Host only: tests/test_cpu_attn_util.cpp checks that it passes a perfect result and catches
// each kind of wrong one.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "attn_case.h"
#include "gpu_util.h"

namespace ptxfmha_test {

// ---- evaluation -------------------------------------------------------------------------------
struct AttnOutputs {
  std::vector<uint16_t> o;  // raw O buffer (o.elems), padding included
  std::vector<float> lse;   // q_rows * heads_q, empty when !with_lse
  bool operator==(const AttnOutputs& b) const {
    return o.size() == b.o.size() && lse.size() == b.lse.size() &&
           std::memcmp(o.data(), b.o.data(), o.size() * sizeof(uint16_t)) == 0 &&
           std::memcmp(lse.data(), b.lse.data(), lse.size() * sizeof(float)) == 0;
  }
};

struct AttnFigures {
  ptxfmha::ErrorStats o;           // over the rows exactly one sequence writes
  long long rows_checked = 0;
  long long unwritten = 0;         // O elements of such rows still poisoned
  long long o_nonfinite = 0;       // NaN / Inf in those rows (poison included)
  long long ghost_written = 0;     // O / LSE elements of rows no sequence owns that changed
  long long pad_clobbered = 0;     // O buffer elements outside the tensor that changed
  long long empty_row_nonzero = 0; // O of a row that sees no key is not exactly 0
  long long lse_unwritten = 0, lse_nonfinite = 0, lse_inf_mismatch = 0;
  double lse_max_abs = 0;
  double lse_mag_ratio = -1;       // the largest LSE |err| / logit_mag (-1: no logit_mag)
  long long lse_first_bad = -1;    // LSE index
  long long o_first_bad = -1;      // dense reference O index
};

// The device O element of dense reference O index i (row * Hq * D + h * D + d).
inline int64_t attn_o_elem(const AttnCase& c, const AttnHost& h, long long i) {
  const long long d = i % c.head_dim, r = i / c.head_dim;
  const long long hh = r % c.heads_q, row = r / c.heads_q;
  if (c.varlen_q) return elem_index(h.o, 0, int(row), int(hh), int(d));
  return elem_index(h.o, int(row / h.seqlen_q), int(row % h.seqlen_q), int(hh), int(d));
}

// "(seq b, row i of it, packed row r, head h, d)" of a dense reference O index.
inline std::string attn_o_position(const AttnCase& c, const AttnHost& h, long long i) {
  if (i < 0) return "-";
  const long long d = i % c.head_dim, r = i / c.head_dim;
  const long long hh = r % c.heads_q, row = r / c.heads_q;
  long long b = 0, in = row;
  if (c.varlen_q) {
    for (std::size_t s = 0; s + 1 < h.cu_q.size(); ++s)
      if (row >= h.cu_q[s] && row < h.cu_q[s + 1]) { b = (long long)s; in = row - h.cu_q[s]; break; }
  } else {
    b = row / h.seqlen_q;
    in = row % h.seqlen_q;
  }
  std::ostringstream s;
  s << "(seq " << b << " row " << in << (c.varlen_q ? " packed row " + std::to_string(row) : std::string())
    << " head " << hh << " d " << d << ")";
  return s.str();
}
// LSE index -> (head, row).
inline std::string attn_lse_position(const AttnCase& c, const AttnHost& h, long long i) {
  if (i < 0) return "-";
  if (c.varlen_q) return "(head " + std::to_string(i / h.total_q) + " packed row " + std::to_string(i % h.total_q) + ")";
  const long long s = i % h.seqlen_q, r = i / h.seqlen_q;
  return "(seq " + std::to_string(r / c.heads_q) + " head " + std::to_string(r % c.heads_q) + " row " +
         std::to_string(s) + ")";
}

inline AttnFigures evaluate_attn(const AttnCase& c, const AttnHost& h, const ptxfmha::RefAttnResult& ref,
                                 const AttnOutputs& got, const Tolerance& tol = Tolerance()) {
  AttnFigures f;
  const int D = c.head_dim, H = c.heads_q;
  std::vector<char> inside(std::size_t(h.o.elems), 0);
  std::vector<double> g, rr;
  std::vector<long long> dense_index;  // positions of g/rr in the dense reference
  const bool any_sink = !c.sinks.empty();
  for (int64_t row = 0; row < h.q_rows; ++row) {
    const uint8_t writers = ref.writers[std::size_t(row)];
    // Rows the reference skipped (sample_reference_rows): every check but the values.
    const bool sampled = h.ref.row_mask.empty() || h.ref.row_mask[std::size_t(row)] != 0;
    for (int hh = 0; hh < H; ++hh) {
      const std::size_t lse_i = c.varlen_q ? std::size_t(hh) * h.total_q + row
                                           : (std::size_t(row / h.seqlen_q) * H + hh) * h.seqlen_q + row % h.seqlen_q;
      const bool empty_row = writers == 1 && ref.visible[std::size_t(row)] == 0;
      for (int d = 0; d < D; ++d) {
        const long long di = (row * H + hh) * (long long)D + d;
        const int64_t e = attn_o_elem(c, h, di);
        inside[std::size_t(e)] = 1;
        const uint16_t bits = got.o[std::size_t(e)];
        if (writers == 0) {
          if (bits != kPoisonBf16) ++f.ghost_written;
          continue;
        }
        if (writers > 1) continue;  // overlapping sequences (invalid metadata): unspecified
        const double x = ptxfmha::bf16_to_float(bits);
        if (bits == kPoisonBf16) ++f.unwritten;
        if (!std::isfinite(x)) ++f.o_nonfinite;
        if (empty_row && x != 0.0) ++f.empty_row_nonzero;
        if (!sampled) continue;
        g.push_back(x);
        rr.push_back(ref.o[std::size_t(di)]);
        dense_index.push_back(di);
      }
      if (!c.with_lse) continue;
      const float gl = got.lse[lse_i];
      uint32_t lbits;
      std::memcpy(&lbits, &gl, 4);
      if (writers == 0) {
        if (lbits != kPoisonF32) ++f.ghost_written;
        continue;
      }
      if (writers > 1) continue;
      if (lbits == kPoisonF32) ++f.lse_unwritten;
      // The LSE of a skipped row is -inf exactly when it sees no key and has no sink.
      const double rl = sampled ? ref.lse[lse_i]
                                : (ref.visible[std::size_t(row)] == 0 && !any_sink ? -INFINITY : 0.0 /* finite */);
      if (std::isinf(rl)) {
        if (!(std::isinf(gl) && gl < 0)) {
          ++f.lse_inf_mismatch;
          if (f.lse_first_bad < 0) f.lse_first_bad = (long long)lse_i;
        }
        continue;
      }
      if (!std::isfinite(gl)) {
        ++f.lse_nonfinite;
        if (f.lse_first_bad < 0) f.lse_first_bad = (long long)lse_i;
        continue;
      }
      if (!sampled) continue;
      const double err = std::fabs(double(gl) - rl);
      f.lse_max_abs = std::max(f.lse_max_abs, err);
      // The e4m3 reference's logit_mag: finite wherever rl is (the same keys), > 0 but where
      // every |q k| is 0.
      const double mag = ref.logit_mag.empty() ? 0.0 : std::max(ref.logit_mag[lse_i], 0.0);
      if (mag > 0) f.lse_mag_ratio = std::max(f.lse_mag_ratio, err / mag);
      if (!(err <= tol.lse_abs + tol.lse_rel * std::fabs(rl) + tol.lse_mag * mag) && f.lse_first_bad < 0)
        f.lse_first_bad = (long long)lse_i;
    }
    f.rows_checked += writers == 1;
  }
  for (std::size_t i = 0; i < inside.size(); ++i)
    if (!inside[i] && got.o[i] != kPoisonBf16) ++f.pad_clobbered;
  f.o = ptxfmha::compare(g.data(), rr.data(), g.size(), tol.elem_abs, tol.elem_rel);
  f.o_first_bad = f.o.first_bad >= 0 ? dense_index[std::size_t(f.o.first_bad)] : -1;
  return f;
}

inline std::string describe(const AttnFigures& f) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "rows=%lld max_abs=%.3e rel_l2=%.3e cos=%.7f lse_max_abs=%.3e", f.rows_checked,
                f.o.max_abs, f.o.rel_l2, f.o.cosine, f.lse_max_abs);
  std::string s = buf;
  if (f.lse_mag_ratio > 0) s += " lse_err/mag=2^" + std::to_string(std::log2(f.lse_mag_ratio));
  const std::pair<const char*, long long> counts[] = {
      {"unwritten", f.unwritten},         {"o_nonfinite", f.o_nonfinite},     {"ghost_written", f.ghost_written},
      {"pad_clobbered", f.pad_clobbered}, {"empty_row_nonzero", f.empty_row_nonzero},
      {"lse_unwritten", f.lse_unwritten}, {"lse_nonfinite", f.lse_nonfinite}, {"lse_inf_mismatch", f.lse_inf_mismatch}};
  for (const auto& kv : counts)
    if (kv.second) s += std::string(" ") + kv.first + "=" + std::to_string(kv.second);
  return s;
}

inline bool attn_within_bounds(const AttnCase& c, const AttnHost& h, const AttnFigures& f, const AttnOutputs& got,
                               const ptxfmha::RefAttnResult& ref, const Tolerance& tol, std::string* why) {
  std::ostringstream s;
  if (f.unwritten) s << f.unwritten << " O elements never written; ";
  if (f.o_nonfinite) s << f.o_nonfinite << " O elements NaN/Inf; ";
  if (f.ghost_written) s << f.ghost_written << " O/LSE elements of rows no sequence owns were written; ";
  if (f.pad_clobbered) s << f.pad_clobbered << " O padding elements overwritten; ";
  if (f.empty_row_nonzero) s << f.empty_row_nonzero << " O elements of rows that see no key are not 0; ";
  if (f.rows_checked > 0) {
    if (!(f.o.rel_l2 <= tol.rel_l2)) s << "rel_l2 " << f.o.rel_l2 << " > " << tol.rel_l2 << "; ";
    if (!(f.o.cosine >= tol.cosine)) s << "cosine " << f.o.cosine << " < " << tol.cosine << "; ";
  }
  if (f.o_first_bad >= 0)
    s << "first O element over |err| <= " << tol.elem_abs << " + " << tol.elem_rel << "*|ref|: "
      << attn_o_position(c, h, f.o_first_bad) << " got "
      << ptxfmha::bf16_to_float(got.o[std::size_t(attn_o_elem(c, h, f.o_first_bad))]) << " ref "
      << ref.o[std::size_t(f.o_first_bad)] << "; ";
  if (c.with_lse) {
    if (f.lse_unwritten) s << f.lse_unwritten << " LSE rows never written; ";
    if (f.lse_nonfinite) s << f.lse_nonfinite << " LSE rows NaN/Inf where the reference is finite; ";
    if (f.lse_inf_mismatch) s << f.lse_inf_mismatch << " LSE rows that see no key (and no sink) are not -inf; ";
    if (f.lse_first_bad >= 0)
      s << "first LSE row over |err| <= " << tol.lse_abs << " + " << tol.lse_rel << "*|ref|"
        << (ref.logit_mag.empty() ? "" : " + lse_mag*logit_mag") << ": " << attn_lse_position(c, h, f.lse_first_bad)
        << " got " << got.lse[std::size_t(f.lse_first_bad)] << " ref " << ref.lse[std::size_t(f.lse_first_bad)]
        << (ref.logit_mag.empty() ? "" : " logit_mag " + std::to_string(ref.logit_mag[std::size_t(f.lse_first_bad)]))
        << "; ";
  }
  *why = s.str();
  return why->empty();
}

// Worst figures per key in gpu_util.h's registry (main.cpp prints it after the run).
inline void record_attn(const std::string& key, const std::string& what, const AttnFigures& f) {
  record_worst(key, what, f.o, f.lse_max_abs, f.lse_mag_ratio);
}

}  // namespace ptxfmha_test
