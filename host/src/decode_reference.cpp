// Float64 reference for decode attention over paged or contiguous KV caches. See decode.h.
//
// Reuses reference_fwd: for every sequence b the len_b cached keys are gathered (through the
// block table when paged) into a dense [1, len_b, heads_kv, D] copy, and reference_fwd runs
// on that copy with batch 1, so masking, GQA and the LSE follow exactly the prefill
// reference.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "decode.h"
#include "ptxfmha/reference.h"
#include "reference_attn.h"  // reference_attn_lse

namespace ptxfmha {

void reference_decode(const RefDecodeShape& s, const uint16_t* q, const uint16_t* k_cache,
                      const uint16_t* v_cache, const std::vector<int32_t>& seqlens,
                      const std::vector<int32_t>& block_table, std::vector<double>& out,
                      std::vector<double>& lse) {
  auto bad = [](const std::string& m) { throw std::invalid_argument("reference_decode: " + m); };
  if (s.batch < 0 || s.seqlen_q < 0 || s.max_seqlen_k < 0 || s.head_dim < 0) bad("negative size");
  if (s.heads_q <= 0 || s.heads_kv <= 0 || s.heads_q % s.heads_kv != 0) bad("bad head counts");
  if (!seqlens.empty() && seqlens.size() != static_cast<std::size_t>(s.batch))
    bad("seqlens must be empty or hold batch entries");
  const bool paged = s.page_size > 0;
  if (paged && block_table.size() != static_cast<std::size_t>(s.batch) * s.max_blocks_per_seq)
    bad("block_table must hold batch * max_blocks_per_seq entries");
  if (paged && int64_t(s.max_blocks_per_seq) * s.page_size < s.max_seqlen_k)
    bad("max_blocks_per_seq * page_size < max_seqlen_k");

  const int D = s.head_dim, Hkv = s.heads_kv, Sq = s.seqlen_q, Hq = s.heads_q;
  const std::size_t row_elems = static_cast<std::size_t>(Hkv) * D;  // one key, all KV heads
  out.assign(static_cast<std::size_t>(s.batch) * Sq * Hq * D, 0.0);
  lse.assign(static_cast<std::size_t>(s.batch) * Hq * Sq, 0.0);

  std::vector<uint16_t> kd, vd;
  std::vector<double> o1, l1;
  for (int b = 0; b < s.batch; ++b) {
    int len = seqlens.empty() ? s.max_seqlen_k : seqlens[static_cast<std::size_t>(b)];
    len = std::max(0, std::min(len, s.max_seqlen_k));
    kd.assign(static_cast<std::size_t>(len) * row_elems, 0);
    vd.assign(static_cast<std::size_t>(len) * row_elems, 0);
    for (int j = 0; j < len; ++j) {
      int64_t base_page = b;  // contiguous: sequence b
      int64_t row = j;
      bool zero = false;
      if (paged) {
        const int32_t id = block_table[static_cast<std::size_t>(b) * s.max_blocks_per_seq + j / s.page_size];
        if (id < 0 || id >= s.num_pages) zero = true;  // the kernel's TMA reads zeros there
        base_page = id;
        row = j % s.page_size;
      }
      if (zero) continue;
      for (int h = 0; h < Hkv; ++h) {
        const uint16_t* kr = k_cache + base_page * s.k_stride[0] + row * s.k_stride[1] + h * s.k_stride[2];
        const uint16_t* vr = v_cache + base_page * s.v_stride[0] + row * s.v_stride[1] + h * s.v_stride[2];
        std::memcpy(&kd[(static_cast<std::size_t>(j) * Hkv + h) * D], kr, sizeof(uint16_t) * D);
        std::memcpy(&vd[(static_cast<std::size_t>(j) * Hkv + h) * D], vr, sizeof(uint16_t) * D);
      }
    }
    RefShape r;
    r.batch = 1;
    r.seqlen_q = Sq;
    r.seqlen_k = len;
    r.heads_q = Hq;
    r.heads_kv = Hkv;
    r.head_dim = D;
    r.causal = s.causal;
    r.softmax_scale = s.softmax_scale;
    for (int i = 0; i < 3; ++i) r.q_stride[i] = s.q_stride[i];
    const int64_t dense[3] = {int64_t(len) * Hkv * D, int64_t(Hkv) * D, D};
    for (int i = 0; i < 3; ++i) r.k_stride[i] = r.v_stride[i] = dense[i];
    reference_fwd(r, q + int64_t(b) * s.q_stride[0], kd.data(), vd.data(), o1, l1);
    std::copy(o1.begin(), o1.end(), out.begin() + static_cast<std::ptrdiff_t>(b) * Sq * Hq * D);
    std::copy(l1.begin(), l1.end(), lse.begin() + static_cast<std::ptrdiff_t>(b) * Hq * Sq);
  }
}

}  // namespace ptxfmha

// ---- the e4m3 cache ------------------------------------------------------------------------
namespace ptxfmha {

float e4m3_to_float(uint8_t x) {
  const int e = (x >> 3) & 15, m = x & 7;
  if (e == 15 && m == 7) return std::numeric_limits<float>::quiet_NaN();
  const float v = e == 0 ? std::ldexp(float(m), -9) : std::ldexp(float(8 + m), e - 10);
  return (x & 0x80) ? -v : v;
}

void e4m3_bf16_table(float scale, uint16_t table[256]) {
  for (int x = 0; x < 256; ++x) table[x] = float_to_bf16(e4m3_to_float(uint8_t(x)) * scale);
}

uint8_t float_to_e4m3(float f) {
  if (std::isnan(f)) return 0x7F;
  const uint8_t sign = std::signbit(f) ? 0x80 : 0x00;
  const double a = std::fabs(double(f));
  if (a >= 448.0) return uint8_t(sign | 0x7E);  // saturate to the largest finite value
  int code;
  if (a < std::ldexp(1.0, -6)) {  // subnormal range: multiples of 2^-9 (8 rounds up to 2^-6)
    code = int(std::nearbyint(a * 512.0));
  } else {
    int e = 0;
    const double m = std::frexp(a, &e);             // a = m 2^e, m in [0.5, 1)
    int mant = int(std::nearbyint((m * 2.0 - 1.0) * 8.0));  // 3 mantissa bits, ties to even
    int exp = e - 1 + 7;                             // biased exponent of 2^(e-1)
    if (mant == 8) {
      mant = 0;
      ++exp;
    }
    code = (exp << 3) | mant;
    if (code > 0x7E) code = 0x7E;                    // (448 < a < 464 rounds to 448 anyway)
  }
  return uint8_t(sign | code);
}

void reference_attn_e4m3(const RefAttnProblem& p, const uint16_t* q, const uint8_t* k_cache,
                         const uint8_t* v_cache, const std::vector<float>& k_scale,
                         const std::vector<float>& v_scale, bool with_logit_mag, RefAttnResult* out) {
  auto bad = [](const std::string& m) { throw std::invalid_argument("reference_attn_e4m3: " + m); };
  if (p.heads_kv <= 0 || p.heads_q <= 0 || p.heads_q % p.heads_kv != 0) bad("bad head counts");
  if (!p.cu_seqlens_k.empty() || !p.cu_seqlens_q.empty()) bad("decode layouts only (fixed Q, fixed or paged K/V)");
  const std::size_t nscale = k_scale.size();
  if (nscale != v_scale.size() || (nscale != 1 && nscale != std::size_t(p.heads_kv)))
    bad("k_scale and v_scale must both hold 1 or heads_kv entries");
  const bool paged = p.page_size > 0;
  const int64_t outer = paged ? p.num_pages : p.batch, rows = paged ? p.page_size : p.seqlen_k;
  auto extent = [&](const int64_t* st) {
    if (outer <= 0 || rows <= 0) return int64_t(0);
    return (outer - 1) * st[0] + (rows - 1) * st[1] + int64_t(p.heads_kv - 1) * st[2] + p.head_dim;
  };
  // Every e4m3 value is a bf16 value: the copies are exact (NaN stays NaN).
  uint16_t table[256];
  e4m3_bf16_table(1.0f, table);
  auto widen = [&table](const uint8_t* src, int64_t n) {
    std::vector<uint16_t> w(std::size_t(std::max<int64_t>(n, 1)));
    for (int64_t i = 0; i < n; ++i) w[std::size_t(i)] = table[src[i]];
    return w;
  };
  const std::vector<uint16_t> k16 = widen(k_cache, extent(p.k_stride));
  const std::vector<uint16_t> v16 = widen(v_cache, extent(p.v_stride));
  const int gqa = p.heads_q / p.heads_kv, D = p.head_dim, Sq = p.seqlen_q;
  // |q| and |k| (sign bits cleared) for logit_mag: the same problem without softcap, ALiBi
  // and sinks, whose LSE is that of |q| |k| softmax_scale over the keys each row sees (the
  // LSE-only pass: the reference's masking, no P V product).
  auto magnitudes = [](const uint16_t* src, int64_t n) {
    std::vector<uint16_t> m(src, src + n);
    for (uint16_t& x : m) x = uint16_t(x & 0x7FFF);
    return m;
  };
  const int64_t q_extent = p.batch <= 0 || Sq <= 0 ? 0
                           : (p.batch - 1) * p.q_stride[0] + int64_t(Sq - 1) * p.q_stride[1] +
                             int64_t(p.heads_q - 1) * p.q_stride[2] + D;
  std::vector<uint16_t> q_mag, k_mag;
  if (with_logit_mag) {
    q_mag = magnitudes(q, q_extent);
    k_mag = magnitudes(k16.data(), int64_t(k16.size()));
  }
  out->o.assign(std::size_t(p.batch) * Sq * p.heads_q * D, 0.0);
  out->lse.assign(std::size_t(p.batch) * p.heads_q * Sq, 0.0);
  out->logit_mag.assign(with_logit_mag ? out->lse.size() : 0, 0.0);
  for (int h = 0; h < p.heads_kv; ++h) {
    const std::size_t s = nscale == 1 ? 0 : std::size_t(h);
    RefAttnProblem ph = p;
    ph.heads_q = gqa;
    ph.heads_kv = 1;
    ph.softmax_scale = p.softmax_scale * double(k_scale[s]);
    if (!p.sink_logits.empty())
      ph.sink_logits.assign(p.sink_logits.begin() + h * gqa, p.sink_logits.begin() + (h + 1) * gqa);
    if (!p.alibi_slopes.empty())
      ph.alibi_slopes.assign(p.alibi_slopes.begin() + h * gqa, p.alibi_slopes.begin() + (h + 1) * gqa);
    RefAttnResult r, mag;
    reference_attn(ph, q + int64_t(h) * gqa * p.q_stride[2], k16.data() + int64_t(h) * p.k_stride[2],
                   v16.data() + int64_t(h) * p.v_stride[2], &r);
    if (with_logit_mag) {
      RefAttnProblem pm = ph;
      pm.softcap = 0;
      pm.sink_logits.clear();
      pm.alibi_slopes.clear();
      reference_attn_lse(pm, q_mag.data() + int64_t(h) * gqa * p.q_stride[2],
                         k_mag.data() + int64_t(h) * p.k_stride[2], &mag, "reference_attn_e4m3");
    }
    if (h == 0) {
      out->writers = r.writers;
      out->visible = r.visible;
    }
    const double vs = double(v_scale[s]);
    for (int b = 0; b < p.batch; ++b)
      for (int i = 0; i < Sq; ++i)
        for (int g = 0; g < gqa; ++g) {
          const std::size_t src = ((std::size_t(b) * Sq + i) * gqa + g) * D;
          const std::size_t dst = ((std::size_t(b) * Sq + i) * p.heads_q + h * gqa + g) * D;
          for (int d = 0; d < D; ++d) out->o[dst + d] = r.o[src + d] * vs;
          const std::size_t l_dst = (std::size_t(b) * p.heads_q + h * gqa + g) * Sq + i;
          const std::size_t l_src = (std::size_t(b) * gqa + g) * Sq + i;
          out->lse[l_dst] = r.lse[l_src];
          if (with_logit_mag) out->logit_mag[l_dst] = mag.lse[l_src];
        }
  }
}

}  // namespace ptxfmha
