// Float64 reference of the attention backward pass (and a float64-input forward for the
// finite-difference test). See host/include/ptxfmha/reference.h.
//
// Per query row i of query head h (KV head g = h / ratio), with the serving features of
// ptxfmha.h ("Visibility", "Scores and softmax"; RefBwdShape's window, softcap, ALiBi, sinks):
//   x_j  = scale * q_i . k_j            for the visible keys lo(i) <= j < hi(i)
//   z_j  = softcap tanh(x_j / softcap)  (x_j without softcap), dz_j/dx_j = 1 - tanh^2
//          - slope_h |i + Sk - Sq - j|  (ALiBi)
//   p_j  = exp(z_j - lse_i)             exact softmax, lse_i = m + log(e^(t_h - m) [sink] +
//                                       sum_j exp(z_j - m))
//   o    = sum_j p_j v_j                (or the given O, RefBwdShape::o)
//   dp_j = dO_i . v_j
//   D_i  = dO_i . o                     (= sum_j p_j dp_j for the exact O: the sink has no value)
//   ds_j = p_j (dp_j - D_i) dz_j/dx_j   gradient of the scaled logits x_j
//   dq_i = scale sum_j ds_j k_j;  dk_j += scale ds_j q_i;  dv_j += p_j dO_i
//   d_sink_h = -sum over the rows i of head h (every batch) of exp(t_h - lse_i) D_i
// Rows without a visible key contribute nothing to dq, dk, dv (with a sink: lse_i = t_h and
// their D_i still enters d_sink). Two passes, each split into independent tasks over all threads, so that no two
// tasks write the same output and the result does not depend on the thread count:
//   pass 1, tasks (batch, query head, block of rows): per row lse_i, D_i and the dq row;
//   pass 2, tasks (batch, KV head, block of keys): per key the dk and dv rows, summed over
//           every row of every query head of the group in (head, row) order, with p and ds
//           recomputed from lse_i and D_i.
// With RefBwdTerms, the same loops also sum the squares of the products (dq_l2 ...) and the
// fp32-noise sizes of ds (dq_floor, dk_floor), see reference.h.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>

#include "ptxfmha/reference.h"

namespace ptxfmha {

namespace {

void check_bwd_shape(const RefBwdShape& rs) {
  const RefShape& s = rs.s;
  auto bad = [](const std::string& m) { throw std::invalid_argument("reference_bwd: " + m); };
  if (s.batch < 0 || s.seqlen_q < 0 || s.seqlen_k < 0 || s.head_dim < 0) bad("negative size");
  if (s.heads_q <= 0 || s.heads_kv <= 0) bad("heads must be > 0");
  if (s.heads_q % s.heads_kv != 0) bad("heads_q must be a multiple of heads_kv");
  if (rs.window_left < -1 || rs.window_right < -1) bad("window sides must be >= -1");
  if (s.causal && rs.window_right > 0) bad("causal needs window_right -1 or 0");
  if (!(rs.softcap >= 0) || std::isinf(rs.softcap)) bad("softcap must be finite and >= 0");
  if (!rs.alibi_slopes.empty() && int(rs.alibi_slopes.size()) != s.heads_q) bad("alibi_slopes must have heads_q entries");
  if (!rs.sink_logits.empty() && int(rs.sink_logits.size()) != s.heads_q) bad("sink_logits must have heads_q entries");
}

inline double widen(uint16_t x) { return bf16_to_float(x); }
inline double widen(double x) { return x; }

// Keys visible to query row i: lo <= j < hi (empty when lo >= hi). Bottom-right: the row's
// diagonal d = i + Sk - Sq; right bound d + window_right (causal: d), left bound d - window_left.
struct Band {
  int64_t lo, hi;
};
inline Band key_band(const RefBwdShape& rs, int64_t i) {
  const RefShape& s = rs.s;
  const int64_t d = i + s.seqlen_k - s.seqlen_q;
  const int right = s.causal ? 0 : rs.window_right;
  Band b{0, s.seqlen_k};
  if (right >= 0) b.hi = std::min<int64_t>(b.hi, d + right + 1);
  if (rs.window_left >= 0) b.lo = std::max<int64_t>(b.lo, d - rs.window_left);
  b.hi = std::max<int64_t>(b.hi, 0);
  return b;
}
// The score z of scaled logit x (key j, row i, head h) and dz/dx (softcap; ALiBi is additive).
inline double score(const RefBwdShape& rs, double x, int h, int64_t i, int64_t j, double* dzdx) {
  double z = x;
  *dzdx = 1.0;
  if (rs.softcap > 0) {
    const double t = std::tanh(x / rs.softcap);
    z = rs.softcap * t;
    *dzdx = 1.0 - t * t;
  }
  if (!rs.alibi_slopes.empty())
    z -= double(rs.alibi_slopes[std::size_t(h)]) * std::fabs(double(i + rs.s.seqlen_k - rs.s.seqlen_q - j));
  return z;
}
inline bool has_sink(const RefBwdShape& rs) { return !rs.sink_logits.empty(); }
inline double sink_of(const RefBwdShape& rs, int h) { return double(rs.sink_logits[std::size_t(h)]); }

// Runs task(t) for t = 0 .. tasks - 1 on up to 16 threads (one when the work is small).
void parallel_for(int tasks, double work, const std::function<void(int)>& task) {
  if (tasks <= 0) return;
  const unsigned hw = std::thread::hardware_concurrency();
  int nthreads = static_cast<int>(std::min<unsigned>(hw == 0 ? 1 : hw, 16u));
  nthreads = std::min(nthreads, tasks);
  if (work < 4e6) nthreads = 1;
  std::atomic<int> next{0};
  auto body = [&]() {
    for (int t = next.fetch_add(1); t < tasks; t = next.fetch_add(1)) task(t);
  };
  std::vector<std::thread> pool;
  for (int i = 0; i + 1 < nthreads; ++i) pool.emplace_back(body);
  body();
  for (auto& th : pool) th.join();
}

// Blocks of `n` items such that about 4 x 16 tasks exist in all (`outer` independent groups).
int block_of(int n, int outer) {
  const int want = std::max(1, (64 + outer - 1) / std::max(outer, 1));
  return std::max(8, (n + want - 1) / want);
}

template <class T>
struct BwdRef {
  const RefBwdShape& rs;
  const T *q, *k, *v, *dout;
  const uint16_t* o_given;
  std::vector<double>&dq, &dk, &dv;
  std::vector<double>* dsum;
  RefBwdTerms* terms;
  std::vector<double> lse, dsum_row, od_abs;  // [b, hq, sq]: pass 1 -> pass 2
  std::vector<double> dsink_row;               // [b, hq, sq]: -exp(t_h - lse_i) D_i (sinks)

  const RefShape& s() const { return rs.s; }
  int ratio() const { return s().heads_q / s().heads_kv; }
  std::size_t row_index(int b, int h, int i) const { return (std::size_t(b) * s().heads_q + h) * s().seqlen_q + i; }
  const T* q_row(int b, int i, int h) const { return q + b * s().q_stride[0] + i * s().q_stride[1] + h * s().q_stride[2]; }
  const T* do_row(int b, int i, int h) const { return dout + b * rs.do_stride[0] + i * rs.do_stride[1] + h * rs.do_stride[2]; }
  const T* k_row(int b, int j, int g) const { return k + b * s().k_stride[0] + j * s().k_stride[1] + g * s().k_stride[2]; }
  const T* v_row(int b, int j, int g) const { return v + b * s().v_stride[0] + j * s().v_stride[1] + g * s().v_stride[2]; }

  // Pass 1: rows [i0, i1) of query head h of batch b.
  void rows(int b, int h, int i0, int i1) {
    const int D = s().head_dim, g = h / ratio();
    const double scale = s().softmax_scale;
    const int64_t jmax = key_band(rs, i1 - 1).hi;  // the bands only move right with i
    std::vector<double> kd(std::size_t(std::max<int64_t>(jmax, 1)) * D), vd(kd.size());
    for (int64_t j = 0; j < jmax; ++j)
      for (int d = 0; d < D; ++d) {
        kd[std::size_t(j) * D + d] = widen(k_row(b, int(j), g)[d]);
        vd[std::size_t(j) * D + d] = widen(v_row(b, int(j), g)[d]);
      }
    std::vector<double> qd(D), dod(D), o(D), dqr(D), dq2(D), dqf(D), sc(std::max<int64_t>(jmax, 1)), dp(sc.size());
    std::vector<double> dz(sc.size());
    for (int i = i0; i < i1; ++i) {
      const std::size_t dense = (std::size_t(b) * s().seqlen_q + i) * s().heads_q + h;
      double* dqo = &dq[dense * D];
      const Band band = key_band(rs, i);
      const int64_t j0 = band.lo, limit = band.hi;
      const std::size_t ri = row_index(b, h, i);
      for (int d = 0; d < D; ++d) {
        qd[d] = widen(q_row(b, i, h)[d]);
        dod[d] = widen(do_row(b, i, h)[d]);
      }
      if (j0 >= limit) {  // no key: dq = 0 (the outputs are zero-initialised)
        lse[ri] = -std::numeric_limits<double>::infinity();
        if (!has_sink(rs)) continue;
        lse[ri] = sink_of(rs, h);  // the sink alone: O = 0 exactly, or the given O
        double dsum_i = 0;
        if (o_given) {
          const uint16_t* orow = o_given + b * rs.o_stride[0] + i * rs.o_stride[1] + h * rs.o_stride[2];
          for (int d = 0; d < D; ++d) dsum_i += dod[d] * double(bf16_to_float(orow[d]));
        }
        dsum_row[ri] = dsum_i;
        if (dsum) (*dsum)[ri] = dsum_i;
        dsink_row[ri] = -dsum_i;
        continue;
      }
      double m = has_sink(rs) ? sink_of(rs, h) : -std::numeric_limits<double>::infinity();
      for (int64_t j = j0; j < limit; ++j) {
        double dot = 0;
        for (int d = 0; d < D; ++d) dot += qd[d] * kd[std::size_t(j) * D + d];
        sc[j] = score(rs, dot * scale, h, i, j, &dz[j]);
        m = std::max(m, sc[j]);
      }
      double l = has_sink(rs) ? std::exp(sink_of(rs, h) - m) : 0.0;
      for (int64_t j = j0; j < limit; ++j) l += std::exp(sc[j] - m);
      const double lse_i = m + std::log(l);
      std::fill(o.begin(), o.end(), 0.0);
      for (int64_t j = j0; j < limit; ++j) {
        sc[j] = std::exp(sc[j] - lse_i);  // p_j
        double dot = 0;
        for (int d = 0; d < D; ++d) {
          o[d] += sc[j] * vd[std::size_t(j) * D + d];
          dot += dod[d] * vd[std::size_t(j) * D + d];
        }
        dp[j] = dot;
      }
      if (o_given) {  // D from the O the caller gives (reference.h)
        const uint16_t* orow = o_given + b * rs.o_stride[0] + i * rs.o_stride[1] + h * rs.o_stride[2];
        for (int d = 0; d < D; ++d) o[d] = bf16_to_float(orow[d]);
      }
      double dsum_i = 0, oa = 0;
      for (int d = 0; d < D; ++d) {
        dsum_i += dod[d] * o[d];
        oa += std::fabs(dod[d] * o[d]);
      }
      lse[ri] = lse_i;
      dsum_row[ri] = dsum_i;
      od_abs[ri] = oa;
      if (dsum) (*dsum)[ri] = dsum_i;
      if (has_sink(rs)) dsink_row[ri] = -std::exp(sink_of(rs, h) - lse_i) * dsum_i;
      std::fill(dqr.begin(), dqr.end(), 0.0);
      std::fill(dq2.begin(), dq2.end(), 0.0);
      std::fill(dqf.begin(), dqf.end(), 0.0);
      for (int64_t j = j0; j < limit; ++j) {
        const double ds = sc[j] * (dp[j] - dsum_i) * dz[j];
        const double* kr = &kd[std::size_t(j) * D];
        for (int d = 0; d < D; ++d) dqr[d] += ds * kr[d];
        if (!terms) continue;
        double a = 0;  // |dO_i|.|v_j|
        for (int d = 0; d < D; ++d) a += std::fabs(dod[d] * vd[std::size_t(j) * D + d]);
        const double pw = sc[j] * (a + oa) * dz[j];
        for (int d = 0; d < D; ++d) {
          const double t = scale * ds * kr[d];
          dq2[d] += t * t;
          dqf[d] += scale * pw * std::fabs(kr[d]);
        }
      }
      for (int d = 0; d < D; ++d) dqo[d] = scale * dqr[d];
      if (terms)
        for (int d = 0; d < D; ++d) {
          terms->dq_l2[dense * D + d] = std::sqrt(dq2[d]);
          terms->dq_floor[dense * D + d] = dqf[d];
        }
    }
  }

  // Pass 2: keys [j0, j1) of KV head g of batch b, over every query head of the group.
  void keys(int b, int g, int j0, int j1) {
    const int D = s().head_dim, Sq = s().seqlen_q;
    const double scale = s().softmax_scale;
    const int nk = j1 - j0;
    std::vector<double> kd(std::size_t(nk) * D), vd(kd.size()), dkd(kd.size(), 0.0), dvd(kd.size(), 0.0);
    std::vector<double> dk2, dv2, dkf, va;
    if (terms) {
      dk2.assign(kd.size(), 0.0); dv2.assign(kd.size(), 0.0); dkf.assign(kd.size(), 0.0);
    }
    for (int j = j0; j < j1; ++j)
      for (int d = 0; d < D; ++d) {
        kd[std::size_t(j - j0) * D + d] = widen(k_row(b, j, g)[d]);
        vd[std::size_t(j - j0) * D + d] = widen(v_row(b, j, g)[d]);
      }
    std::vector<double> qd(D), dod(D);
    for (int hh = 0; hh < ratio(); ++hh) {
      const int h = g * ratio() + hh;
      for (int64_t i = 0; i < Sq; ++i) {
        const std::size_t ri = row_index(b, h, int(i));
        const Band band = key_band(rs, i);
        const int64_t jlo = std::max<int64_t>(band.lo, j0), limit = std::min<int64_t>(band.hi, j1);
        if (jlo >= limit) continue;  // none of these keys (or no key at all)
        for (int d = 0; d < D; ++d) {
          qd[d] = widen(q_row(b, int(i), h)[d]);
          dod[d] = widen(do_row(b, int(i), h)[d]);
        }
        for (int64_t j = jlo; j < limit; ++j) {
          const double* kr = &kd[std::size_t(j - j0) * D];
          const double* vr = &vd[std::size_t(j - j0) * D];
          double sdot = 0, dp = 0;
          for (int d = 0; d < D; ++d) {
            sdot += qd[d] * kr[d];
            dp += dod[d] * vr[d];
          }
          double dzdx = 1.0;
          const double p = std::exp(score(rs, sdot * scale, h, i, j, &dzdx) - lse[ri]);
          const double ds = p * (dp - dsum_row[ri]) * dzdx;
          const std::size_t jo = std::size_t(j - j0) * D;
          for (int d = 0; d < D; ++d) {
            dkd[jo + d] += ds * qd[d];
            dvd[jo + d] += p * dod[d];
          }
          if (!terms) continue;
          double a = 0;
          for (int d = 0; d < D; ++d) a += std::fabs(dod[d] * vr[d]);
          const double pw = p * (a + od_abs[ri]) * dzdx;
          for (int d = 0; d < D; ++d) {
            const double tk = scale * ds * qd[d], tv = p * dod[d];
            dk2[jo + d] += tk * tk;
            dv2[jo + d] += tv * tv;
            dkf[jo + d] += scale * pw * std::fabs(qd[d]);
          }
        }
      }
    }
    for (int j = j0; j < j1; ++j) {
      const std::size_t at = ((std::size_t(b) * s().seqlen_k + j) * s().heads_kv + g) * D;
      const std::size_t jo = std::size_t(j - j0) * D;
      for (int d = 0; d < D; ++d) {
        dk[at + d] = scale * dkd[jo + d];
        dv[at + d] = dvd[jo + d];
        if (terms) {
          terms->dk_l2[at + d] = std::sqrt(dk2[jo + d]);
          terms->dv_l2[at + d] = std::sqrt(dv2[jo + d]);
          terms->dk_floor[at + d] = dkf[jo + d];
        }
      }
    }
  }
};

template <class T>
void bwd_impl(const RefBwdShape& rs, const T* q, const T* k, const T* v, const T* dout, const uint16_t* o_given,
              std::vector<double>& dq, std::vector<double>& dk, std::vector<double>& dv,
              std::vector<double>* dsum, RefBwdTerms* terms, std::vector<double>* d_sink) {
  const RefShape& s = rs.s;
  check_bwd_shape(rs);
  dq.assign(std::size_t(s.batch) * s.seqlen_q * s.heads_q * s.head_dim, 0.0);
  dk.assign(std::size_t(s.batch) * s.seqlen_k * s.heads_kv * s.head_dim, 0.0);
  dv.assign(dk.size(), 0.0);
  const std::size_t rows = std::size_t(s.batch) * s.heads_q * s.seqlen_q;
  if (dsum) dsum->assign(rows, 0.0);
  if (terms) {
    terms->dq_l2.assign(dq.size(), 0.0);
    terms->dq_floor.assign(dq.size(), 0.0);
    terms->dk_l2.assign(dk.size(), 0.0);
    terms->dk_floor.assign(dk.size(), 0.0);
    terms->dv_l2.assign(dk.size(), 0.0);
  }
  if (d_sink) d_sink->assign(std::size_t(s.heads_q), 0.0);
  if (s.batch == 0 || s.seqlen_q == 0 || s.seqlen_k == 0) return;
  BwdRef<T> r{rs, q, k, v, dout, o_given, dq, dk, dv, dsum, terms, {}, {}, {}, {}};
  r.lse.assign(rows, -std::numeric_limits<double>::infinity());
  r.dsum_row.assign(rows, 0.0);
  r.od_abs.assign(rows, 0.0);
  r.dsink_row.assign(rows, 0.0);
  const double work = double(s.batch) * s.heads_q * double(s.seqlen_q) * s.seqlen_k * std::max(s.head_dim, 1);
  const int rb = block_of(s.seqlen_q, s.batch * s.heads_q), nrb = (s.seqlen_q + rb - 1) / rb;
  parallel_for(s.batch * s.heads_q * nrb, work, [&](int t) {
    const int blk = t % nrb, bh = t / nrb;
    r.rows(bh / s.heads_q, bh % s.heads_q, blk * rb, std::min(s.seqlen_q, (blk + 1) * rb));
  });
  const int kb = block_of(s.seqlen_k, s.batch * s.heads_kv), nkb = (s.seqlen_k + kb - 1) / kb;
  parallel_for(s.batch * s.heads_kv * nkb, work, [&](int t) {
    const int blk = t % nkb, bg = t / nkb;
    r.keys(bg / s.heads_kv, bg % s.heads_kv, blk * kb, std::min(s.seqlen_k, (blk + 1) * kb));
  });
  if (d_sink && has_sink(rs))  // in (batch, row) order, whatever the thread count
    for (int b = 0; b < s.batch; ++b)
      for (int h = 0; h < s.heads_q; ++h)
        for (int i = 0; i < s.seqlen_q; ++i) (*d_sink)[std::size_t(h)] += r.dsink_row[r.row_index(b, h, i)];
}

}  // namespace

void reference_bwd(const RefBwdShape& s, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                   const uint16_t* dout, std::vector<double>& dq, std::vector<double>& dk,
                   std::vector<double>& dv, std::vector<double>* dsum, RefBwdTerms* terms,
                   std::vector<double>* d_sink) {
  bwd_impl(s, q, k, v, dout, s.o, dq, dk, dv, dsum, terms, d_sink);
}

void reference_bwd_varlen(const RefBwdShape& s, const std::vector<int>& cu_q, const std::vector<int>& cu_k,
                          const std::vector<int>& len_k, const uint16_t* q, const uint16_t* k,
                          const uint16_t* v, const uint16_t* dout, std::vector<double>& dq,
                          std::vector<double>& dk, std::vector<double>& dv, std::vector<double>* dsum,
                          RefBwdTerms* terms, std::vector<double>* d_sink) {
  const std::size_t B = len_k.size();
  if (cu_q.size() != B + 1 || cu_k.size() != B + 1)
    throw std::invalid_argument("reference_bwd_varlen: cu_q and cu_k need batch + 1 entries");
  const int Hq = s.s.heads_q, Hkv = s.s.heads_kv, D = s.s.head_dim;
  const std::size_t tq = std::size_t(cu_q[B]), tk = std::size_t(cu_k[B]);
  const std::size_t qrow = std::size_t(Hq) * D, krow = std::size_t(Hkv) * D;
  dq.assign(tq * qrow, 0.0);
  dk.assign(tk * krow, 0.0);
  dv.assign(tk * krow, 0.0);
  if (dsum) dsum->assign(std::size_t(Hq) * tq, 0.0);
  if (terms) {
    terms->dq_l2.assign(dq.size(), 0.0); terms->dq_floor.assign(dq.size(), 0.0);
    terms->dk_l2.assign(dk.size(), 0.0); terms->dk_floor.assign(dk.size(), 0.0);
    terms->dv_l2.assign(dv.size(), 0.0);
  }
  if (d_sink) d_sink->assign(std::size_t(Hq), 0.0);
  for (std::size_t b = 0; b < B; ++b) {
    const int q0 = cu_q[b], k0 = cu_k[b], lq = cu_q[b + 1] - cu_q[b], lk = len_k[b];
    if (lq < 0 || lk < 0 || lk > cu_k[b + 1] - cu_k[b])
      throw std::invalid_argument("reference_bwd_varlen: bad lengths");
    if (lq == 0 || lk == 0) continue;  // no query rows, or no keys: every gradient 0
    RefBwdShape sb = s;                // one sequence: batch 1, its lengths, shifted pointers
    sb.s.batch = 1;
    sb.s.seqlen_q = lq;
    sb.s.seqlen_k = lk;
    if (s.o) sb.o = s.o + int64_t(q0) * s.o_stride[1];
    std::vector<double> gq, gk, gv, gs, gd;
    RefBwdTerms gt;
    reference_bwd(sb, q + int64_t(q0) * s.s.q_stride[1], k + int64_t(k0) * s.s.k_stride[1],
                  v + int64_t(k0) * s.s.v_stride[1], dout + int64_t(q0) * s.do_stride[1], gq, gk, gv,
                  dsum ? &gs : nullptr, terms ? &gt : nullptr, d_sink ? &gd : nullptr);
    // dense [1, l, heads, D] -> packed rows from q0 / k0
    auto place = [](std::vector<double>& dst, const std::vector<double>& src, std::size_t row0, std::size_t row) {
      std::copy(src.begin(), src.end(), dst.begin() + static_cast<std::ptrdiff_t>(row0 * row));
    };
    place(dq, gq, q0, qrow);
    place(dk, gk, k0, krow);
    place(dv, gv, k0, krow);
    if (terms) {
      place(terms->dq_l2, gt.dq_l2, q0, qrow); place(terms->dq_floor, gt.dq_floor, q0, qrow);
      place(terms->dk_l2, gt.dk_l2, k0, krow); place(terms->dk_floor, gt.dk_floor, k0, krow);
      place(terms->dv_l2, gt.dv_l2, k0, krow);
    }
    if (dsum)
      for (int h = 0; h < Hq; ++h)
        for (int i = 0; i < lq; ++i) (*dsum)[std::size_t(h) * tq + q0 + i] = gs[std::size_t(h) * lq + i];
    if (d_sink)
      for (int h = 0; h < Hq; ++h) (*d_sink)[h] += gd[h];
  }
}

void reference_bwd_f64(const RefBwdShape& s, const double* q, const double* k, const double* v,
                       const double* dout, std::vector<double>& dq, std::vector<double>& dk,
                       std::vector<double>& dv, std::vector<double>* dsum, std::vector<double>* d_sink) {
  bwd_impl(s, q, k, v, dout, static_cast<const uint16_t*>(nullptr), dq, dk, dv, dsum, nullptr, d_sink);
}

void reference_fwd_f64(const RefShape& s, const double* q, const double* k, const double* v,
                       std::vector<double>& out, std::vector<double>& lse) {
  RefBwdShape rs{};
  rs.s = s;
  reference_fwd_f64(rs, q, k, v, out, lse);
}

void reference_fwd_f64(const RefBwdShape& rs, const double* q, const double* k, const double* v,
                       std::vector<double>& out, std::vector<double>& lse) {
  check_bwd_shape(rs);
  const RefShape& s = rs.s;
  const int D = s.head_dim, Sq = s.seqlen_q, Sk = s.seqlen_k;
  const int ratio = s.heads_q / s.heads_kv;
  out.assign(std::size_t(s.batch) * Sq * s.heads_q * D, 0.0);
  lse.assign(std::size_t(s.batch) * s.heads_q * Sq, -std::numeric_limits<double>::infinity());
  std::vector<double> sc(static_cast<std::size_t>(std::max(Sk, 1)));
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.heads_q; ++h)
      for (int i = 0; i < Sq; ++i) {
        const Band band = key_band(rs, i);
        const int64_t j0 = band.lo, limit = band.hi;
        double m = has_sink(rs) ? sink_of(rs, h) : -std::numeric_limits<double>::infinity();
        if (j0 >= limit && !has_sink(rs)) continue;
        const double* qr = q + b * s.q_stride[0] + i * s.q_stride[1] + h * s.q_stride[2];
        for (int64_t j = j0; j < limit; ++j) {
          const double* kr = k + b * s.k_stride[0] + j * s.k_stride[1] + (h / ratio) * s.k_stride[2];
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += qr[d] * kr[d];
          double dzdx = 1.0;
          sc[j] = score(rs, dot * s.softmax_scale, h, i, j, &dzdx);
          m = std::max(m, sc[j]);
        }
        double l = has_sink(rs) ? std::exp(sink_of(rs, h) - m) : 0.0;
        for (int64_t j = j0; j < limit; ++j) l += std::exp(sc[j] - m);
        double* o = &out[((std::size_t(b) * Sq + i) * s.heads_q + h) * D];
        for (int64_t j = j0; j < limit; ++j) {
          const double p = std::exp(sc[j] - m) / l;
          const double* vr = v + b * s.v_stride[0] + j * s.v_stride[1] + (h / ratio) * s.v_stride[2];
          for (int d = 0; d < D; ++d) o[d] += p * vr[d];
        }
        lse[(std::size_t(b) * s.heads_q + h) * Sq + i] = m + std::log(l);
      }
}

}  // namespace ptxfmha
