// Float64 reference of the attention backward pass (and a float64-input forward for the
// finite-difference test). See host/include/ptxfmha/reference.h.
//
// Work is split per (batch, KV head): the head's K and V rows are widened to float64 once,
// its dK and dV accumulate in local buffers over every query head of its GQA group and every
// query row, and are written once at the end, so no two workers touch the same output.
// Per query row i (of query head h):
//   s_j  = scale * q_i . k_j            for the visible keys j < limit(i)
//   p_j  = exp(s_j - m) / l             exact softmax (m = max s_j, l = sum exp(s_j - m))
//   o    = sum_j p_j v_j
//   dp_j = dO_i . v_j
//   D_i  = dO_i . o                     (= sum_j p_j dp_j)
//   ds_j = p_j (dp_j - D_i)             gradient of the logits s_j
//   dq_i = scale sum_j ds_j k_j;  dk_j += scale ds_j q_i;  dv_j += p_j dO_i
// Rows without a visible key (bottom-right causal with seqlen_q > seqlen_k) skip all of it.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>

#include "ptxfmha/reference.h"

namespace ptxfmha {

namespace {

void check_bwd_shape(const RefShape& s) {
  auto bad = [](const std::string& m) { throw std::invalid_argument("reference_bwd: " + m); };
  if (s.batch < 0 || s.seqlen_q < 0 || s.seqlen_k < 0 || s.head_dim < 0) bad("negative size");
  if (s.heads_q <= 0 || s.heads_kv <= 0) bad("heads must be > 0");
  if (s.heads_q % s.heads_kv != 0) bad("heads_q must be a multiple of heads_kv");
}

inline double widen(uint16_t x) { return bf16_to_float(x); }
inline double widen(double x) { return x; }

// Keys visible to query row i: j < limit (bottom-right causal: j <= i + Sk - Sq).
inline int64_t key_limit(const RefShape& s, int i) {
  if (!s.causal) return s.seqlen_k;
  return std::max<int64_t>(0, std::min<int64_t>(s.seqlen_k, int64_t(i) + s.seqlen_k - s.seqlen_q + 1));
}

template <class T>
struct BwdWorker {
  const RefBwdShape& rs;
  const T *q, *k, *v, *dout;
  double *dq, *dk, *dv, *dsum;
  std::vector<double> kd, vd, dkd, dvd, qd, dod, sc, dp, o, dqr;

  BwdWorker(const RefBwdShape& rs_, const T* q_, const T* k_, const T* v_, const T* do_, double* dq_,
            double* dk_, double* dv_, double* dsum_)
      : rs(rs_), q(q_), k(k_), v(v_), dout(do_), dq(dq_), dk(dk_), dv(dv_), dsum(dsum_) {
    const std::size_t D = static_cast<std::size_t>(rs.s.head_dim), Sk = static_cast<std::size_t>(rs.s.seqlen_k);
    kd.resize(Sk * D); vd.resize(Sk * D); dkd.resize(Sk * D); dvd.resize(Sk * D);
    qd.resize(D); dod.resize(D); o.resize(D); dqr.resize(D);
    sc.resize(Sk); dp.resize(Sk);
  }

  // One (batch b, KV head g) pair: every query head of the group, every query row.
  void run(int b, int g) {
    const RefShape& s = rs.s;
    const int D = s.head_dim, Sq = s.seqlen_q, Sk = s.seqlen_k;
    const int ratio = s.heads_q / s.heads_kv;
    const double scale = s.softmax_scale;
    for (int j = 0; j < Sk; ++j) {
      const T* kr = k + b * s.k_stride[0] + j * s.k_stride[1] + g * s.k_stride[2];
      const T* vr = v + b * s.v_stride[0] + j * s.v_stride[1] + g * s.v_stride[2];
      for (int d = 0; d < D; ++d) {
        kd[std::size_t(j) * D + d] = widen(kr[d]);
        vd[std::size_t(j) * D + d] = widen(vr[d]);
      }
    }
    std::fill(dkd.begin(), dkd.end(), 0.0);
    std::fill(dvd.begin(), dvd.end(), 0.0);
    for (int hh = 0; hh < ratio; ++hh) {
      const int h = g * ratio + hh;
      for (int i = 0; i < Sq; ++i) {
        double* dqo = dq + ((std::size_t(b) * Sq + i) * s.heads_q + h) * D;
        double* dso = dsum ? dsum + (std::size_t(b) * s.heads_q + h) * Sq + i : nullptr;
        const int64_t limit = key_limit(s, i);
        if (limit <= 0) {
          std::fill(dqo, dqo + D, 0.0);
          if (dso) *dso = 0.0;
          continue;
        }
        const T* qr = q + b * s.q_stride[0] + i * s.q_stride[1] + h * s.q_stride[2];
        const T* dr = dout + b * rs.do_stride[0] + i * rs.do_stride[1] + h * rs.do_stride[2];
        for (int d = 0; d < D; ++d) {
          qd[d] = widen(qr[d]);
          dod[d] = widen(dr[d]);
        }
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < limit; ++j) {
          const double* kr = &kd[std::size_t(j) * D];
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += qd[d] * kr[d];
          sc[j] = dot * scale;
          m = std::max(m, sc[j]);
        }
        double l = 0;
        for (int64_t j = 0; j < limit; ++j) {
          sc[j] = std::exp(sc[j] - m);
          l += sc[j];
        }
        std::fill(o.begin(), o.end(), 0.0);
        for (int64_t j = 0; j < limit; ++j) {
          sc[j] /= l;  // p_j
          const double* vr = &vd[std::size_t(j) * D];
          double dot = 0;
          for (int d = 0; d < D; ++d) {
            o[d] += sc[j] * vr[d];
            dot += dod[d] * vr[d];
          }
          dp[j] = dot;
        }
        double dsum_i = 0;
        for (int d = 0; d < D; ++d) dsum_i += dod[d] * o[d];
        if (dso) *dso = dsum_i;
        std::fill(dqr.begin(), dqr.end(), 0.0);
        for (int64_t j = 0; j < limit; ++j) {
          const double p = sc[j];
          const double ds = p * (dp[j] - dsum_i);
          const double* kr = &kd[std::size_t(j) * D];
          double* dkr = &dkd[std::size_t(j) * D];
          double* dvr = &dvd[std::size_t(j) * D];
          for (int d = 0; d < D; ++d) {
            dqr[d] += ds * kr[d];
            dkr[d] += ds * qd[d];
            dvr[d] += p * dod[d];
          }
        }
        for (int d = 0; d < D; ++d) dqo[d] = scale * dqr[d];
      }
    }
    for (int j = 0; j < Sk; ++j) {
      double* dko = dk + ((std::size_t(b) * Sk + j) * s.heads_kv + g) * D;
      double* dvo = dv + ((std::size_t(b) * Sk + j) * s.heads_kv + g) * D;
      for (int d = 0; d < D; ++d) {
        dko[d] = scale * dkd[std::size_t(j) * D + d];
        dvo[d] = dvd[std::size_t(j) * D + d];
      }
    }
  }
};

template <class T>
void bwd_impl(const RefBwdShape& rs, const T* q, const T* k, const T* v, const T* dout,
              std::vector<double>& dq, std::vector<double>& dk, std::vector<double>& dv,
              std::vector<double>* dsum) {
  const RefShape& s = rs.s;
  check_bwd_shape(s);
  dq.assign(std::size_t(s.batch) * s.seqlen_q * s.heads_q * s.head_dim, 0.0);
  dk.assign(std::size_t(s.batch) * s.seqlen_k * s.heads_kv * s.head_dim, 0.0);
  dv.assign(dk.size(), 0.0);
  if (dsum) dsum->assign(std::size_t(s.batch) * s.heads_q * s.seqlen_q, 0.0);
  const int tasks = s.batch * s.heads_kv;
  if (tasks == 0) return;
  const double work = double(s.batch) * s.heads_q * std::max(s.seqlen_q, 1) * std::max(s.seqlen_k, 1) *
                      std::max(s.head_dim, 1);
  unsigned hw = std::thread::hardware_concurrency();
  int nthreads = static_cast<int>(std::min<unsigned>(hw == 0 ? 1 : hw, 16u));
  nthreads = std::min(nthreads, tasks);
  if (work < 4e6) nthreads = 1;
  std::atomic<int> next{0};
  auto body = [&]() {
    BwdWorker<T> w(rs, q, k, v, dout, dq.data(), dk.data(), dv.data(), dsum ? dsum->data() : nullptr);
    for (int t = next.fetch_add(1); t < tasks; t = next.fetch_add(1)) w.run(t / s.heads_kv, t % s.heads_kv);
  };
  if (nthreads <= 1) {
    body();
    return;
  }
  std::vector<std::thread> pool;
  for (int i = 0; i < nthreads - 1; ++i) pool.emplace_back(body);
  body();
  for (auto& t : pool) t.join();
}

}  // namespace

void reference_bwd(const RefBwdShape& s, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                   const uint16_t* dout, std::vector<double>& dq, std::vector<double>& dk,
                   std::vector<double>& dv, std::vector<double>* dsum) {
  bwd_impl(s, q, k, v, dout, dq, dk, dv, dsum);
}

void reference_bwd_f64(const RefBwdShape& s, const double* q, const double* k, const double* v,
                       const double* dout, std::vector<double>& dq, std::vector<double>& dk,
                       std::vector<double>& dv, std::vector<double>* dsum) {
  bwd_impl(s, q, k, v, dout, dq, dk, dv, dsum);
}

void reference_fwd_f64(const RefShape& s, const double* q, const double* k, const double* v,
                       std::vector<double>& out, std::vector<double>& lse) {
  check_bwd_shape(s);
  const int D = s.head_dim, Sq = s.seqlen_q, Sk = s.seqlen_k;
  const int ratio = s.heads_q / s.heads_kv;
  out.assign(std::size_t(s.batch) * Sq * s.heads_q * D, 0.0);
  lse.assign(std::size_t(s.batch) * s.heads_q * Sq, -std::numeric_limits<double>::infinity());
  std::vector<double> sc(static_cast<std::size_t>(std::max(Sk, 1)));
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.heads_q; ++h)
      for (int i = 0; i < Sq; ++i) {
        const int64_t limit = key_limit(s, i);
        if (limit <= 0) continue;
        const double* qr = q + b * s.q_stride[0] + i * s.q_stride[1] + h * s.q_stride[2];
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < limit; ++j) {
          const double* kr = k + b * s.k_stride[0] + j * s.k_stride[1] + (h / ratio) * s.k_stride[2];
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += qr[d] * kr[d];
          sc[j] = dot * s.softmax_scale;
          m = std::max(m, sc[j]);
        }
        double l = 0;
        for (int64_t j = 0; j < limit; ++j) l += std::exp(sc[j] - m);
        double* o = &out[((std::size_t(b) * Sq + i) * s.heads_q + h) * D];
        for (int64_t j = 0; j < limit; ++j) {
          const double p = std::exp(sc[j] - m) / l;
          const double* vr = v + b * s.v_stride[0] + j * s.v_stride[1] + (h / ratio) * s.v_stride[2];
          for (int d = 0; d < D; ++d) o[d] += p * vr[d];
        }
        lse[(std::size_t(b) * s.heads_q + h) * Sq + i] = m + std::log(l);
      }
}

}  // namespace ptxfmha
