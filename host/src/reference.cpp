// Float64 CPU reference attention and error figures. See host/include/ptxfmha/reference.h.
//
// reference_fwd works per (batch, query head): the head's K and V rows are widened to
// float64 once into contiguous buffers, then every query row streams over them
// (scores, max, exp-sum, weighted V sum), so the inner loops run over contiguous memory.
// (batch, head) pairs are spread over std::thread workers when the problem is big enough.
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

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>

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

namespace {

void check_shape(const RefShape& s) {
  auto bad = [](const std::string& m) { throw std::invalid_argument("reference_fwd: " + m); };
  if (s.batch < 0 || s.seqlen_q < 0 || s.seqlen_k < 0 || s.head_dim < 0)
    bad("negative size");
  if (s.heads_q <= 0 || s.heads_kv <= 0) bad("heads must be > 0");
  if (s.heads_q % s.heads_kv != 0) bad("heads_q must be a multiple of heads_kv");
}

struct Worker {
  const RefShape& s;
  const uint16_t* q;
  const uint16_t* k;
  const uint16_t* v;
  double* out;
  double* lse;
  std::vector<double> kd, vd, qd, sc, acc;

  Worker(const RefShape& s_, const uint16_t* q_, const uint16_t* k_, const uint16_t* v_,
         double* out_, double* lse_)
      : s(s_), q(q_), k(k_), v(v_), out(out_), lse(lse_) {
    const std::size_t D = static_cast<std::size_t>(s.head_dim);
    const std::size_t Sk = static_cast<std::size_t>(s.seqlen_k);
    kd.resize(Sk * D);
    vd.resize(Sk * D);
    qd.resize(D);
    sc.resize(Sk);
    acc.resize(D);
  }

  // One (batch b, query head h) pair.
  void run(int b, int h) {
    const int D = s.head_dim, Sq = s.seqlen_q, Sk = s.seqlen_k;
    const int kvh = h / (s.heads_q / s.heads_kv);
    for (int j = 0; j < Sk; ++j) {
      const uint16_t* kr = k + b * s.k_stride[0] + j * s.k_stride[1] + kvh * s.k_stride[2];
      const uint16_t* vr = v + b * s.v_stride[0] + j * s.v_stride[1] + kvh * s.v_stride[2];
      double* kdr = &kd[static_cast<std::size_t>(j) * D];
      double* vdr = &vd[static_cast<std::size_t>(j) * D];
      for (int d = 0; d < D; ++d) {
        kdr[d] = bf16_to_float(kr[d]);
        vdr[d] = bf16_to_float(vr[d]);
      }
    }
    for (int i = 0; i < Sq; ++i) {
      const uint16_t* qr = q + b * s.q_stride[0] + i * s.q_stride[1] + h * s.q_stride[2];
      for (int d = 0; d < D; ++d) qd[d] = bf16_to_float(qr[d]);
      // Bottom-right causal: row i sees keys j <= i + Sk - Sq.
      int64_t limit = Sk;
      if (s.causal) limit = std::min<int64_t>(Sk, int64_t(i) + Sk - Sq + 1);
      double* o = out + ((static_cast<std::size_t>(b) * Sq + i) * s.heads_q + h) * D;
      double* l = lse + (static_cast<std::size_t>(b) * s.heads_q + h) * Sq + i;
      if (limit <= 0) {
        std::fill(o, o + D, 0.0);
        *l = -std::numeric_limits<double>::infinity();
        continue;
      }
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < limit; ++j) {
        const double* kdr = &kd[static_cast<std::size_t>(j) * D];
        double dot = 0;
        for (int d = 0; d < D; ++d) dot += qd[d] * kdr[d];
        sc[j] = dot * s.softmax_scale;
        m = std::max(m, sc[j]);
      }
      std::fill(acc.begin(), acc.end(), 0.0);
      double sum = 0;
      for (int64_t j = 0; j < limit; ++j) {
        const double w = std::exp(sc[j] - m);
        sum += w;
        const double* vdr = &vd[static_cast<std::size_t>(j) * D];
        for (int d = 0; d < D; ++d) acc[d] += w * vdr[d];
      }
      for (int d = 0; d < D; ++d) o[d] = acc[d] / sum;
      *l = m + std::log(sum);
    }
  }
};

}  // namespace

void reference_fwd(const RefShape& s, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                   std::vector<double>& out, std::vector<double>& lse) {
  check_shape(s);
  const std::size_t out_n = static_cast<std::size_t>(s.batch) * s.seqlen_q * s.heads_q * s.head_dim;
  const std::size_t lse_n = static_cast<std::size_t>(s.batch) * s.heads_q * s.seqlen_q;
  out.assign(out_n, 0.0);
  lse.assign(lse_n, -std::numeric_limits<double>::infinity());
  const int tasks = s.batch * s.heads_q;
  if (tasks == 0 || s.seqlen_q == 0) return;

  const double work = double(tasks) * s.seqlen_q * std::max(s.seqlen_k, 1) * std::max(s.head_dim, 1);
  unsigned hw = std::thread::hardware_concurrency();
  int nthreads = static_cast<int>(std::min<unsigned>(hw == 0 ? 1 : hw, 16u));
  nthreads = std::min(nthreads, tasks);
  if (work < 4e6) nthreads = 1;  // thread start-up would dominate

  std::atomic<int> next{0};
  auto body = [&]() {
    Worker w(s, q, k, v, out.data(), lse.data());
    for (int t = next.fetch_add(1); t < tasks; t = next.fetch_add(1)) w.run(t / s.heads_q, t % s.heads_q);
  };
  if (nthreads <= 1) {
    body();
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(nthreads - 1));
  for (int i = 0; i < nthreads - 1; ++i) pool.emplace_back(body);
  body();
  for (auto& t : pool) t.join();
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
