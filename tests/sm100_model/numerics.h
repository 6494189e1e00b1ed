// CPU emulation of the arithmetic of the sm100a forward kernels, operation by operation, in the
// order and precision the PTX performs it (tests/test_cpu_sm100a_numerics.cpp compares it with
// the float64 reference):
//
//   S = Q K^T      tcgen05.mma kind::f16, fp32 accumulator in TMEM: per K-step of 16 the exact
//                  sum of bf16 x bf16 products is rounded to fp32 and added (rounded) to the
//                  accumulator (the tensor core's internal order within a K-step is not
//                  specified; this models it as one rounding per K-step).
//   row max        over the KV tile's valid keys; masked keys (residue, causal diagonal) are -inf.
//   m in use       serial kernels: the running max. New design: lazy rescale, the max in use moves
//                  only when the tile's max exceeds it by more than RESCALE_THRESHOLD (8, log2
//                  units); then alpha = ex2(m_old - m_new) rescales O (correction warpgroup) and l.
//   p              x = fma(s, scale_log2, -m); p = ex2(x): MUFU ex2.approx.ftz.f32, or, for the
//                  columns of the FMA-pipe split, the polynomial below. Masked keys give p = 0.
//   l              fp32, four partial sums (column i goes to sum i % 4) added as (s0+s1)+(s2+s3),
//                  then l = fma(l, alpha, sum)
//   P              cvt.rn.bf16x2.f32 of p (round to nearest even)
//   O += P V       fp32 accumulator, per K-step of 16 keys as for S
//   epilogue       O * rcp.rn(l) -> bf16; LSE = (m + lg2(l)) * ln 2 (lg2.approx: correctly rounded
//                  log2 plus the same error model as ex2); a row without keys: O = 0, LSE = -inf.
//
// The serving features of the EXT variant (Config::feat, ptx/body/sm100_fwd/features.ptxh):
//   band           the CTA tile's KV tiles [j0, j0 + n) of fwd_plan.h attn_kv_tile_range (the
//                  window with causal as right bound 0), keys in [lo, hi) per row, the rest -inf
//   softcap        s = post * tanh.approx(s * pre) (fp32 multiplies; tanh.approx modelled as tanh
//                  rounded to fp32 with a deterministic relative perturbation of up to 2^-11)
//   ALiBi          e = (d - key of the tile's column 0) as fp32, per chunk e - c0, per column
//                  minus the column, |.|, s = fma(|.|, slope', s) (slope' = slope x alibi_mul)
//   sinks          after the last tile: t2 = t * log2e, m' = max(m, t2), alpha = ex2(m - m'),
//                  l = fma(l, alpha, ex2(t2 - m')); O normalised by l / alpha (div.full)
//
// ex2 on the FMA pipe (FlashAttention-4's idea, our own coefficients): x clamped at -127,
// floor(x) by an add with round-toward-minus-infinity of 1.5 * 2^23 (the integer lands in the
// low mantissa bits), f = x - floor(x) in [0, 1), 2^f by a degree-3 polynomial with p(0) = 1,
// evaluated by Horner with fma.rn.f32, and 2^floor(x) added to the exponent field with one
// integer add (shl 23 of the rounded value's bits). Coefficients: minimax for the relative error
// on [0, 1] with p(0) = 1 exactly (Remez exchange; docs/sm100_fwd_design.md), rounded to fp32.
// MUFU ex2.approx.ftz.f32 is modelled as exp2 rounded to fp32 with a deterministic relative
// perturbation of up to 2^-22 (two units in the last place).
#pragma once
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "fwd_plan.h"
#include "ptxfmha/reference.h"

namespace sm100_numerics {

// Degree-3 coefficients of 2^f ~ 1 + f (C1 + f (C2 + f C3)), f in [0, 1).
constexpr uint32_t kPolyC1Bits = 0x3f31f32cu;  // 0.6951167583
constexpr uint32_t kPolyC2Bits = 0x3e691bc5u;  // 0.2276449949
constexpr uint32_t kPolyC3Bits = 0x3d9dd553u;  // 0.0770670399

inline float bits_f(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline uint32_t f_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

struct Poly {
  float c1 = bits_f(kPolyC1Bits), c2 = bits_f(kPolyC2Bits), c3 = bits_f(kPolyC3Bits);
};

// 2^f for f in [0, 1): Horner with fma (fmaf is fused, one rounding, as fma.rn.f32).
inline float poly_frac(float f, const Poly& c) {
  float p = std::fmaf(c.c3, f, c.c2);
  p = std::fmaf(p, f, c.c1);
  return std::fmaf(p, f, 1.0f);
}

// The whole FMA-pipe exp2 as the PTX computes it (x <= 127).
inline float ex2_poly(float x, const Poly& c = Poly()) {
  const float xc = std::fmax(x, -127.0f);  // max.f32 (NaN never reaches here)
  // add.rm.f32 xr, xc, 0x4B400000 (1.5 * 2^23): for -127 <= xc < 2^22 the sum is exactly
  // 1.5 * 2^23 + floor(xc) (the spacing there is 1), which floorf reproduces.
  const float fl = std::floor(xc);
  const float xr = 12582912.0f + fl;
  const float f = xc - (xr - 12582912.0f);  // exact: sub.f32 twice
  const float p = poly_frac(f, c);
  const uint32_t out = f_bits(p) + (f_bits(xr) << 23);  // shl.b32 + add.s32
  return bits_f(out);
}

// MUFU ex2.approx.ftz.f32 model.
inline float ex2_mufu(float x) {
  if (x == -std::numeric_limits<float>::infinity()) return 0.0f;
  if (x == std::floor(x) && x >= -126.0f && x <= 127.0f) return std::ldexp(1.0f, static_cast<int>(x));  // exact powers of two
  const double e = std::exp2(static_cast<double>(x));
  uint32_t h = f_bits(x) * 0x9E3779B1u;
  h ^= h >> 15;
  const double pert = (static_cast<double>(h & 0xFFFF) / 32768.0 - 1.0) * std::ldexp(1.0, -22);
  float r = static_cast<float>(e * (1.0 + pert));
  if (std::fabs(r) < std::numeric_limits<float>::min()) r = 0.0f;  // .ftz
  return r;
}
inline float lg2_approx(float x) {
  const double e = std::log2(static_cast<double>(x));
  uint32_t h = f_bits(x) * 0x85EBCA6Bu;
  h ^= h >> 13;
  const double pert = (static_cast<double>(h & 0xFFFF) / 32768.0 - 1.0) * std::ldexp(1.0, -22);
  return static_cast<float>(e + std::fabs(e) * pert);
}

inline float bf16_round(float x) { return ptxfmha::bf16_to_float(ptxfmha::float_to_bf16(x)); }

struct Config {
  bool lazy_rescale = true;       // new design (false: serial kernels, rescale on every max move)
  float threshold_log2 = 8.0f;    // RESCALE_THRESHOLD
  int block_n = 128;
  int block_m = 256;              // query rows per CTA tile (decides the KV tiles a row block visits)
  int poly_cols_per_32 = 0;       // columns of each 32-column fragment on the FMA pipe
  Poly poly;
  // Injected bugs (the test shows the comparison catches them).
  bool bug_no_o_rescale = false;  // l rescaled, O not
  // The EXT variant's features (issue 14); enabled == false: the plain kernels' arithmetic.
  struct Features {
    bool enabled = false;
    int window_left = -1, window_right = -1;  // canonical (causal folded in as right 0); -1 unbounded
    float softcap_pre = 0, softcap_post = 0;  // 0: off (units of Q K^T, as the kernel's block)
    std::vector<float> alibi;                 // slope x alibi_mul per query head; empty: off
    std::vector<float> sinks;                 // natural-log sink logit per query head; empty: off
    bool bug_sink_not_in_o = false;           // injected: O normalised by l instead of l / alpha
    // seqused_k / paged K/V: the rows [seqlen_k, seqlen_k + nan_rows) of the last tile are inside
    // the tensor (keys not yet written, a page's tail) and hold NaN; the PV MMA multiplies them by
    // P = 0 (0 x NaN = NaN) unless the V tail fix zeroed them (features.ptxh KV_ISSUE_EXT).
    int nan_rows = 0;
    bool v_tail_fix = true;
  } feat;
};

// tanh.approx.f32 model: tanh rounded to fp32 with a deterministic relative perturbation of up
// to 2^-11 (the ISA's bound: maximum relative error 2^-10.987).
inline float tanh_approx(float x) {
  const double e = std::tanh(static_cast<double>(x));
  uint32_t h = f_bits(x) * 0x27D4EB2Du;
  h ^= h >> 15;
  const double pert = (static_cast<double>(h & 0xFFFF) / 32768.0 - 1.0) * std::ldexp(1.0, -11);
  return static_cast<float>(e * (1.0 + pert));
}

// Does column c (0..block_n-1) of a KV tile take the polynomial path?
inline bool poly_col(int c, int cols_per_32) { return cols_per_32 > 0 && (c % 32) >= 32 - cols_per_32; }

// Emulates the forward kernel on bf16 inputs (layout and strides of ptxfmha::RefShape);
// out: dense [batch, seqlen_q, heads_q, head_dim] of the bf16 O values (as doubles), lse:
// [batch, heads_q, seqlen_q].
inline void emulate_fwd(const ptxfmha::RefShape& s, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                        const Config& cfg, std::vector<double>& out, std::vector<double>& lse) {
  const int D = s.head_dim, Sq = s.seqlen_q, Sk = s.seqlen_k, BN = cfg.block_n;
  out.assign(static_cast<std::size_t>(s.batch) * Sq * s.heads_q * D, 0.0);
  lse.assign(static_cast<std::size_t>(s.batch) * s.heads_q * Sq, 0.0);
  const float scale_log2 = static_cast<float>(s.softmax_scale * 1.4426950408889634);
  const float neg_inf = -std::numeric_limits<float>::infinity();
  std::vector<float> kf(static_cast<std::size_t>(Sk) * D), vf(static_cast<std::size_t>(Sk) * D), qf(D), o(D);
  std::vector<float> sc(BN), p(BN);
  const int ntot = (Sk + BN - 1) / BN;
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.heads_q; ++h) {
      const int kvh = h / (s.heads_q / s.heads_kv);
      for (int j = 0; j < Sk; ++j)
        for (int d = 0; d < D; ++d) {
          kf[static_cast<std::size_t>(j) * D + d] = ptxfmha::bf16_to_float(k[b * s.k_stride[0] + j * s.k_stride[1] + kvh * s.k_stride[2] + d]);
          vf[static_cast<std::size_t>(j) * D + d] = ptxfmha::bf16_to_float(v[b * s.v_stride[0] + j * s.v_stride[1] + kvh * s.v_stride[2] + d]);
        }
      for (int i = 0; i < Sq; ++i) {
        for (int d = 0; d < D; ++d) qf[d] = ptxfmha::bf16_to_float(q[b * s.q_stride[0] + i * s.q_stride[1] + h * s.q_stride[2] + d]);
        // KV tiles the row's CTA tile visits (causal: up to the last row of the CTA tile).
        const int blk = i / cfg.block_m;
        int ntiles = ntot;
        int lim = s.causal ? std::min(Sk, i + Sk - Sq + 1) : Sk;  // keys [lo, lim)
        int lo = 0, j0 = 0;
        if (s.causal) {
          const int last_row = std::min((blk + 1) * cfg.block_m, Sq) - 1;
          const int last_key = last_row + Sk - Sq;
          ntiles = last_key < 0 ? 0 : std::min(ntot, last_key / BN + 1);
        }
        const Config::Features& F = cfg.feat;
        const int dgl = i + Sk - Sq;  // the row's diagonal key
        if (F.enabled) {  // the band (features.ptxh WINDOW_TILES, ROW_LIMITS_EXT)
          const ptxfmha::AttnTileRange r =
              ptxfmha::attn_kv_tile_range(int64_t(blk) * cfg.block_m, Sq, Sk, cfg.block_m, BN, F.window_left, F.window_right);
          j0 = static_cast<int>(r.j0);
          ntiles = static_cast<int>(r.n);
          lo = F.window_left >= 0 ? dgl - F.window_left : INT32_MIN;
          lim = F.window_right >= 0 ? std::min(Sk, dgl + F.window_right + 1) : Sk;
        }
        float m = neg_inf, l = 0.0f;
        std::fill(o.begin(), o.end(), 0.0f);
        for (int t = 0; t < ntiles; ++t) {
          const int k0 = (j0 + t) * BN;
          // S = Q K^T, fp32 per K-step of 16.
          float mx = neg_inf;
          for (int c = 0; c < BN; ++c) {
            const int key = k0 + c;
            if (key >= lim || key >= Sk || key < lo) {
              sc[c] = neg_inf;
              continue;
            }
            const float* kr = &kf[static_cast<std::size_t>(key) * D];
            float acc = 0.0f;
            for (int kk = 0; kk < D; kk += 16) {
              double part = 0;
              for (int d = kk; d < kk + 16; ++d) part += static_cast<double>(qf[d]) * kr[d];
              acc = kk == 0 ? static_cast<float>(part) : acc + static_cast<float>(part);
            }
            if (F.enabled && F.softcap_pre != 0.0f) acc = tanh_approx(acc * F.softcap_pre) * F.softcap_post;
            if (F.enabled && !F.alibi.empty()) {
              const float e = static_cast<float>(dgl - k0);            // cvt.rn.f32.s32
              const float ec = e - static_cast<float>(c - c % 32);     // the chunk's column 0
              const float ft = std::fabs(ec - static_cast<float>(c % 32));
              acc = std::fmaf(ft, F.alibi[static_cast<std::size_t>(h)], acc);
            }
            sc[c] = acc;
            mx = std::fmax(mx, acc);
          }
          // Max in use.
          const float mcand = mx * scale_log2;  // mul.f32 of the row max
          float alpha = 1.0f;
          float mnew = m;
          if (!cfg.lazy_rescale) {
            mnew = std::fmax(m, mcand);
          } else if (m == neg_inf || mcand > m + cfg.threshold_log2) {
            mnew = std::fmax(m, mcand);
          }
          const float muse = mnew == neg_inf ? 0.0f : mnew;
          if (m != mnew) alpha = ex2_mufu(m - muse);  // m = -inf: alpha = 0 (O, l are 0)
          // p, l.
          float sums[4] = {0, 0, 0, 0};
          for (int c = 0; c < BN; ++c) {
            if (sc[c] == neg_inf) {
              p[c] = 0.0f;  // masked: zeroed after the exponential (never 2^-127 from the clamp)
            } else {
              const float x = std::fmaf(sc[c], scale_log2, -muse);
              p[c] = poly_col(c, cfg.poly_cols_per_32) ? ex2_poly(x, cfg.poly) : ex2_mufu(x);
            }
            sums[c % 4] += p[c];
          }
          const float sum = (sums[0] + sums[1]) + (sums[2] + sums[3]);
          l = std::fmaf(l, alpha, sum);
          // O rescale (correction warpgroup), then O += P V with P in bf16.
          if (alpha != 1.0f && !cfg.bug_no_o_rescale)
            for (int d = 0; d < D; ++d) o[d] *= alpha;
          for (int c = 0; c < BN; ++c) p[c] = bf16_round(p[c]);
          for (int kk = 0; kk < BN; kk += 16) {
            for (int d = 0; d < D; ++d) {
              double part = 0;
              for (int c = kk; c < kk + 16; ++c) {
                const int key = k0 + c;
                if (key >= Sk && key < Sk + F.nan_rows && !F.v_tail_fix) {  // NaN row, not zeroed
                  part += static_cast<double>(p[c]) * std::numeric_limits<double>::quiet_NaN();
                  continue;
                }
                if (key >= Sk || p[c] == 0.0f) continue;  // zero-filled (or zeroed) rows past the keys
                part += static_cast<double>(p[c]) * vf[static_cast<std::size_t>(key) * D + d];
              }
              o[d] = (t == 0 && kk == 0) ? static_cast<float>(part) : o[d] + static_cast<float>(part);
            }
          }
          m = mnew;
        }
        float lv = l;  // O's normaliser
        if (F.enabled && !F.sinks.empty()) {  // features.ptxh SINK_MERGE_EXT, FINAL_L_STORE_EXT
          const float t2 = F.sinks[static_cast<std::size_t>(h)] * bits_f(0x3FB8AA3Bu);
          const float mx = std::fmax(m, t2);
          const float mu = mx == neg_inf ? 0.0f : mx;
          const float alpha = ex2_mufu(m - mu);
          l = std::fmaf(l, alpha, ex2_mufu(t2 - mu));
          m = mx;
          lv = alpha != 1.0f && !F.bug_sink_not_in_o ? l / alpha : l;
          if (!(l > 0.0f)) lv = 0.0f;
        }
        const std::size_t orow = ((static_cast<std::size_t>(b) * Sq + i) * s.heads_q + h) * D;
        const float inv = lv > 0.0f ? 1.0f / lv : 0.0f;  // rcp.rn.f32
        for (int d = 0; d < D; ++d) out[orow + d] = ptxfmha::bf16_to_float(ptxfmha::float_to_bf16(o[d] * inv));
        const std::size_t li = (static_cast<std::size_t>(b) * s.heads_q + h) * Sq + i;
        lse[li] = l > 0.0f ? static_cast<double>((lg2_approx(l) + (m == neg_inf ? 0.0f : m)) * 0.6931471805599453f)
                           : -std::numeric_limits<double>::infinity();
      }
    }
}

}  // namespace sm100_numerics
