#include "bench_bwd_ref.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "ptxfmha/reference.h"

namespace ptxfmha_bench {

namespace {

// Keys visible to query row i: j < limit.
int64_t key_limit(const BwdRefShape& s, int64_t i) {
  if (!s.causal) return s.seqlen_k;
  return std::max<int64_t>(0, std::min<int64_t>(s.seqlen_k, i + s.seqlen_k - s.seqlen_q + 1));
}

// The sampled rows' contributions of query head h: dQ rows of h (written), dK and dV rows
// (added into the head's own buffers, summed over heads in order afterwards).
void one_head(const BwdRefShape& s, const uint16_t* q, const uint16_t* k, const uint16_t* v, const uint16_t* o,
              const uint16_t* dout, const float* lse, const BwdRefRows& rows, int64_t h, BwdRefOut* out,
              std::vector<double>* dk_h, std::vector<double>* dv_h) {
  const int64_t D = s.head_dim, Hq = s.heads_q, Hkv = s.heads_kv, g = h / (Hq / Hkv);
  auto f = [](uint16_t x) { return double(ptxfmha::bf16_to_float(x)); };
  auto row_of = [&](const uint16_t* t, int64_t r, int64_t heads, int64_t hh) { return t + (r * heads + hh) * D; };
  std::vector<double> qi(D), doi(D);
  // D_i = dO_i . O_i and the row's P against key j, dP against key j.
  auto load_row = [&](int64_t i, double* dsum) {
    const uint16_t *qr = row_of(q, i, Hq, h), *dr = row_of(dout, i, Hq, h), *orow = row_of(o, i, Hq, h);
    double acc = 0;
    for (int64_t d = 0; d < D; ++d) {
      qi[d] = f(qr[d]);
      doi[d] = f(dr[d]);
      acc += doi[d] * f(orow[d]);
    }
    *dsum = acc;
  };
  auto p_dp = [&](int64_t i, int64_t j, double* p, double* dp) {
    const uint16_t *kr = row_of(k, j, Hkv, g), *vr = row_of(v, j, Hkv, g);
    double sc = 0, dpp = 0;
    for (int64_t d = 0; d < D; ++d) {
      sc += qi[d] * f(kr[d]);
      dpp += doi[d] * f(vr[d]);
    }
    *p = std::exp(sc * s.softmax_scale - double(lse[h * s.seqlen_q + i]));
    *dp = dpp;
  };
  // dQ of rows [q0, q0 + nq)
  for (int64_t r = 0; r < rows.nq; ++r) {
    const int64_t i = rows.q0 + r;
    double* dqo = &out->dq[std::size_t((r * Hq + h) * D)];
    std::fill(dqo, dqo + D, 0.0);
    if (std::isinf(lse[h * s.seqlen_q + i])) continue;
    double dsum;
    load_row(i, &dsum);
    for (int64_t j = 0; j < key_limit(s, i); ++j) {
      double p, dp;
      p_dp(i, j, &p, &dp);
      const double ds = p * (dp - dsum);
      const uint16_t* kr = row_of(k, j, Hkv, g);
      for (int64_t d = 0; d < D; ++d) dqo[d] += s.softmax_scale * ds * f(kr[d]);
    }
  }
  // dK, dV of keys [k0, k0 + nk): every row of head h that sees one of them
  for (int64_t i = 0; i < s.seqlen_q; ++i) {
    const int64_t limit = key_limit(s, i);
    if (limit <= rows.k0 || std::isinf(lse[h * s.seqlen_q + i])) continue;
    double dsum;
    load_row(i, &dsum);
    for (int64_t j = rows.k0; j < std::min(limit, rows.k0 + rows.nk); ++j) {
      double p, dp;
      p_dp(i, j, &p, &dp);
      const double ds = p * (dp - dsum);
      double* dkr = &(*dk_h)[std::size_t((j - rows.k0) * D)];
      double* dvr = &(*dv_h)[std::size_t((j - rows.k0) * D)];
      for (int64_t d = 0; d < D; ++d) {
        dkr[d] += s.softmax_scale * ds * qi[d];
        dvr[d] += p * doi[d];
      }
    }
  }
}

}  // namespace

void bwd_reference_rows(const BwdRefShape& s, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                        const uint16_t* o, const uint16_t* dout, const float* lse, const BwdRefRows& rows,
                        BwdRefOut* out) {
  const int64_t D = s.head_dim, Hq = s.heads_q, Hkv = s.heads_kv;
  out->dq.assign(std::size_t(rows.nq * Hq * D), 0.0);
  out->dk.assign(std::size_t(rows.nk * Hkv * D), 0.0);
  out->dv.assign(out->dk.size(), 0.0);
  std::vector<std::vector<double>> dk_h(std::size_t(Hq), std::vector<double>(std::size_t(rows.nk * D), 0.0));
  std::vector<std::vector<double>> dv_h(dk_h);
  const unsigned hw = std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < hw; ++t)
    pool.emplace_back([&, t] {
      for (int64_t h = t; h < Hq; h += hw) one_head(s, q, k, v, o, dout, lse, rows, h, out, &dk_h[h], &dv_h[h]);
    });
  for (auto& th : pool) th.join();
  // dK, dV of a KV head: its query heads' parts summed in head order (independent of threads).
  const int64_t ratio = Hq / Hkv;
  for (int64_t h = 0; h < Hq; ++h)
    for (int64_t j = 0; j < rows.nk; ++j)
      for (int64_t d = 0; d < D; ++d) {
        out->dk[std::size_t((j * Hkv + h / ratio) * D + d)] += dk_h[h][std::size_t(j * D + d)];
        out->dv[std::size_t((j * Hkv + h / ratio) * D + d)] += dv_h[h][std::size_t(j * D + d)];
      }
}

}  // namespace ptxfmha_bench
