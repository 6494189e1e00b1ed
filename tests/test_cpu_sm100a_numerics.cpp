// "sm100a numerics emulator": the arithmetic of the new sm100a forward design (lazy rescale,
// the exp2 split between MUFU and the FMA-pipe polynomial, bf16 P, fp32 accumulation per K-step,
// O / l, LSE) and of today's serial kernels, emulated on the CPU (tests/sm100_model/numerics.h)
// and compared with the float64 reference (host/include/ptxfmha/reference.h) over shapes of the
// GPU sweep (tests/test_gpu_fwd.cpp: query and key lengths from {1, 17, 64, 127, 128, 129, 193,
// 1000, 2048}, causal and not, GQA), fewer of them to keep the CPU time small, inside the
// documented error bounds (README "Accuracy": rel. L2 <= 2e-2, cosine >= 0.9999, every element
// within 2e-2 + 2e-2 |ref|, LSE within 1e-3 + 2e-5 |ref|). The polynomial's maximum relative
// error is measured, printed and bounded.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "attn.h"
#include "ptx_util.h"
#include "ptxfmha/reference.h"
#include "sm100_model/design.h"
#include "sm100_model/numerics.h"
#include "sm100_model/ptx_roles.h"

namespace {

namespace nu = sm100_numerics;

struct Problem {
  ptxfmha::RefShape s;
  std::vector<uint16_t> q, k, v;
};

Problem make_problem(int d, int sq, int sk, int hq, int hkv, bool causal, uint64_t seed, float q_scale = 1.0f) {
  Problem p;
  p.s.batch = 1;
  p.s.seqlen_q = sq;
  p.s.seqlen_k = sk;
  p.s.heads_q = hq;
  p.s.heads_kv = hkv;
  p.s.head_dim = d;
  p.s.causal = causal;
  p.s.softmax_scale = 1.0 / std::sqrt(static_cast<double>(d));
  // [batch, seq, heads, head_dim], dense
  const int64_t qs[3] = {int64_t(sq) * hq * d, int64_t(hq) * d, d};
  const int64_t ks[3] = {int64_t(sk) * hkv * d, int64_t(hkv) * d, d};
  for (int i = 0; i < 3; ++i) {
    p.s.q_stride[i] = qs[i];
    p.s.k_stride[i] = ks[i];
    p.s.v_stride[i] = ks[i];
  }
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n01(0.0f, 1.0f);
  auto fill = [&](std::vector<uint16_t>& x, std::size_t n, float sc) {
    x.resize(n);
    for (auto& e : x) e = ptxfmha::float_to_bf16(n01(rng) * sc);
  };
  fill(p.q, static_cast<std::size_t>(sq) * hq * d, q_scale);
  fill(p.k, static_cast<std::size_t>(sk) * hkv * d, 1.0f);
  fill(p.v, static_cast<std::size_t>(sk) * hkv * d, 1.0f);
  return p;
}

struct Worst {
  double max_abs = 0, rel_l2 = 0, cos = 1, lse = 0;
  int cases = 0, failed = 0;
  std::string first_fail;
  // Counts one case (O error e, LSE error el) into the worst figures; returns whether the
  // documented bounds hold (no NaN, every element within its bound, rel. L2 <= 2e-2, cosine >=
  // 0.9999). The caller counts a failure.
  bool add(const ptxfmha::ErrorStats& e, const ptxfmha::ErrorStats& el) {
    ++cases;
    max_abs = std::max(max_abs, e.max_abs);
    rel_l2 = std::max(rel_l2, e.rel_l2);
    cos = std::min(cos, e.cosine);
    lse = std::max(lse, el.max_abs);
    return e.nan_count == 0 && e.first_bad < 0 && e.rel_l2 <= 2e-2 && e.cosine >= 0.9999 && el.nan_count == 0 &&
           el.first_bad < 0;
  }
};

// Compares one emulation with the reference; returns whether the documented bounds hold.
bool check(const Problem& p, const std::vector<double>& ref_o, const std::vector<double>& ref_lse, const nu::Config& cfg,
           Worst& w, const std::string& label) {
  std::vector<double> o, lse;
  nu::emulate_fwd(p.s, p.q.data(), p.k.data(), p.v.data(), cfg, o, lse);
  const ptxfmha::ErrorStats e = ptxfmha::compare(o.data(), ref_o.data(), o.size(), 2e-2, 2e-2);
  const ptxfmha::ErrorStats el = ptxfmha::compare(lse.data(), ref_lse.data(), lse.size(), 1e-3, 2e-5);
  const bool ok = w.add(e, el);
  if (!ok) {
    ++w.failed;
    if (w.first_fail.empty()) {
      char b[256];
      std::snprintf(b, sizeof b, "%s: max_abs %.3g rel_l2 %.3g cos %.7f lse %.3g first bad O %lld LSE %lld", label.c_str(), e.max_abs,
                    e.rel_l2, e.cosine, el.max_abs, e.first_bad, el.first_bad);
      w.first_fail = b;
    }
  }
  return ok;
}

// ---- the two-tile kernels' own numbers (their macros, cpp -dM) ------------------------------------
using Kernel = ptxfmha_test::KernelMacros;
const std::vector<Kernel>& twotile_kernels() {
  static const std::vector<Kernel> ks = [] {
    std::vector<Kernel> out;
    for (const Kernel& k : ptxfmha_test::sm100a_fwd_kernels())
      if (k.macros.count("KERNEL_Q_TILES")) out.push_back(k);
    return out;
  }();
  return ks;
}
const Kernel* kernel_of(int head_dim) {
  for (const Kernel& k : twotile_kernels())
    if (ptxfmha_test::macro_value(k.macros, "KERNEL_HEAD_DIM", k.name) == head_dim) return &k;
  return nullptr;
}
// An fp32 immediate macro of the PTX (0fXXXXXXXX) as a float.
float f32_macro(const Kernel& k, const char* m) {
  auto it = k.macros.find(m);
  REQUIRE_MESSAGE(it != k.macros.end(), k.name << " does not define " << m);
  std::string v = it->second;
  v.erase(0, v.find_first_not_of(" \t"));
  const bool imm = v.size() == 10 && v.rfind("0f", 0) == 0;
  REQUIRE_MESSAGE(imm, k.name << ": " << m << " = '" << v << "'");
  return nu::bits_f(static_cast<uint32_t>(std::stoul(v.substr(2), nullptr, 16)));
}

// The emulation of a two-tile kernel: every number from its macros (tile sizes, the exp2 split,
// the polynomial's coefficients, the rescale threshold), none copied.
nu::Config kernel_config(const Kernel& k) {
  nu::Config c;
  c.lazy_rescale = true;
  c.threshold_log2 = f32_macro(k, "RESCALE_THRESHOLD");
  c.block_n = static_cast<int>(ptxfmha_test::macro_value(k.macros, "KERNEL_BLOCK_N", k.name));
  c.block_m = static_cast<int>(ptxfmha_test::macro_value(k.macros, "KERNEL_BLOCK_M", k.name));
  c.poly_cols_per_32 = static_cast<int>(ptxfmha_test::macro_value(k.macros, "EX2_POLY_COLS_PER_32", k.name));
  c.poly.c1 = f32_macro(k, "EX2_POLY_C1");
  c.poly.c2 = f32_macro(k, "EX2_POLY_C2");
  c.poly.c3 = f32_macro(k, "EX2_POLY_C3");
  return c;
}

nu::Config new_design(const sm100_design::FwdDesign& d) {
  if (const Kernel* k = kernel_of(d.head_dim)) return kernel_config(*k);
  nu::Config c;  // no kernel for this head dim: the design's numbers
  c.lazy_rescale = true;
  c.threshold_log2 = sm100_design::kRescaleThresholdLog2;
  c.block_n = d.block_n;
  c.block_m = d.block_m;
  c.poly_cols_per_32 = d.ex2_poly_cols_per_32;
  return c;
}

// ---- a small interpreter of the softmax's exp2 instructions (the preprocessed PTX) ----------------
// Registers hold 32-bit words (pairs as two words: "%r.lo" / "%r.hi"); the instructions the exp2
// paths use are executed with the fp32 semantics of the PTX ISA (fma/add/sub rounded to nearest
// unless .rm, max, shl, add.s32, ex2.approx by the emulator's MUFU model).
struct Interp {
  std::map<std::string, uint32_t> r;
  std::string error;
  static std::vector<std::string> operands(const std::string& b, std::string* op) { return sm100_ptx::operands(b, op); }
  static std::vector<std::string> list(const std::string& braced) { return sm100_ptx::reg_list(braced); }
  uint32_t word(const std::string& o) {
    if (o.rfind("0f", 0) == 0) return static_cast<uint32_t>(std::stoul(o.substr(2), nullptr, 16));
    if (!o.empty() && (std::isdigit(static_cast<unsigned char>(o[0])) || o[0] == '-')) return static_cast<uint32_t>(std::stol(o, nullptr, 0));
    auto it = r.find(o);
    if (it == r.end()) { error = "read of unset register " + o; return 0; }
    return it->second;
  }
  float f(const std::string& o) { return nu::bits_f(word(o)); }
  void pair(const std::string& o, float* lo, float* hi) {
    *lo = nu::bits_f(word(o + ".lo"));
    *hi = nu::bits_f(word(o + ".hi"));
  }
  void set2(const std::string& d, float lo, float hi) {
    r[d + ".lo"] = nu::f_bits(lo);
    r[d + ".hi"] = nu::f_bits(hi);
  }
  // Round-toward-minus-infinity fp32 add (add.rm): exact sum in double, then rounded down.
  static float add_rm(float a, float b) {
    const double e = static_cast<double>(a) + static_cast<double>(b);
    float x = static_cast<float>(e);
    if (static_cast<double>(x) > e) x = std::nextafter(x, -std::numeric_limits<float>::infinity());
    return x;
  }
  bool step(const std::string& text) {
    std::string op;
    const std::vector<std::string> o = operands(sm100_ptx::body(text), &op);
    float a0, a1, b0, b1, c0, c1;
    if (op == "mov.b64" && o.size() == 2 && o[1][0] == '{') {
      const auto v = list(o[1]);
      r[o[0] + ".lo"] = word(v[0]);
      r[o[0] + ".hi"] = word(v[1]);
    } else if (op == "mov.b64" && o.size() == 2 && o[0][0] == '{') {
      const auto v = list(o[0]);
      r[v[0]] = word(o[1] + ".lo");
      r[v[1]] = word(o[1] + ".hi");
    } else if (op == "mov.f32" || op == "mov.b32") {
      r[o[0]] = word(o[1]);
    } else if (op == "fma.rn.f32x2") {
      pair(o[1], &a0, &a1); pair(o[2], &b0, &b1); pair(o[3], &c0, &c1);
      set2(o[0], std::fmaf(a0, b0, c0), std::fmaf(a1, b1, c1));
    } else if (op == "add.rm.f32x2") {
      pair(o[1], &a0, &a1); pair(o[2], &b0, &b1);
      set2(o[0], add_rm(a0, b0), add_rm(a1, b1));
    } else if (op == "sub.f32x2") {
      pair(o[1], &a0, &a1); pair(o[2], &b0, &b1);
      set2(o[0], a0 - b0, a1 - b1);
    } else if (op == "add.f32x2") {
      pair(o[1], &a0, &a1); pair(o[2], &b0, &b1);
      set2(o[0], a0 + b0, a1 + b1);
    } else if (op == "max.f32") {
      r[o[0]] = nu::f_bits(std::fmax(f(o[1]), f(o[2])));
    } else if (op == "shl.b32") {
      r[o[0]] = word(o[1]) << word(o[2]);
    } else if (op == "add.s32") {
      r[o[0]] = word(o[1]) + word(o[2]);
    } else if (op == "ex2.approx.ftz.f32") {
      r[o[0]] = nu::f_bits(nu::ex2_mufu(f(o[1])));
    } else {
      error = "no interpretation for '" + text + "'";
    }
    return error.empty();
  }
};

// The softmax region's statements of one kernel.
std::vector<sm100_ptx::Stmt> softmax_statements(const Kernel& k) {
  bool ok = false;
  std::string text = ptxfmha_test::read_text_file(ptxfmha_test::preprocessed_path("sm100a", k.name), &ok);
  REQUIRE_MESSAGE(ok, "build/ptx/sm100a/" << k.name << ".ptx is missing (`make cubins` writes it)");
  const sm100_ptx::Layout L = sm100_ptx::split_roles(text, k.macros);
  REQUIRE_MESSAGE(L.error.empty(), L.error);
  for (const sm100_ptx::Region& rg : L.regions)
    if (rg.role == "softmax") return std::vector<sm100_ptx::Stmt>(L.st.begin() + static_cast<std::ptrdiff_t>(rg.begin),
                                                                  L.st.begin() + static_cast<std::ptrdiff_t>(rg.end));
  FAIL("no softmax region");
  return {};
}

// The instruction sequence of the first exp2 pair of `kind` (a pair whose code holds add.rm: the
// polynomial; else MUFU) of the first chunk: from the pack before its fma.rn.f32x2 of the scores to
// the last instruction before the next pair's pack (or the row sum).
std::vector<std::string> exp2_pair_code(const std::vector<sm100_ptx::Stmt>& st, bool poly) {
  for (std::size_t i = 0; i + 1 < st.size(); ++i) {
    if (sm100_ptx::body(st[i + 1].text).rfind("fma.rn.f32x2 %x2, %x2, %scale2, %nm2", 0) != 0) continue;
    std::vector<std::string> code = {st[i].text, st[i + 1].text};
    bool has_rm = false;
    for (std::size_t j = i + 2; j < st.size(); ++j) {
      const std::string b = sm100_ptx::body(st[j].text);
      if (b.rfind("mov.b64 %x2, {", 0) == 0 && j + 1 < st.size() &&
          sm100_ptx::body(st[j + 1].text).rfind("fma.rn.f32x2 %x2, %x2, %scale2, %nm2", 0) == 0)
        break;
      if (b.rfind("mov.b64 %acc", 0) == 0 || b.rfind("add.f32x2", 0) == 0 || b.rfind("setp", 0) == 0 || b.rfind("@", 0) == 0 ||
          !st[j].labels.empty())
        break;
      if (b.rfind("add.rm.f32x2", 0) == 0) has_rm = true;
      code.push_back(st[j].text);
    }
    if (has_rm == poly) return code;
  }
  return {};
}
nu::Config serial_kernel(int head_dim) {
  nu::Config c;
  c.lazy_rescale = false;
  c.block_n = head_dim == 256 ? 64 : 128;
  c.block_m = 128;
  c.poly_cols_per_32 = 0;
  return c;
}

}  // namespace

TEST_CASE("sm100a numerics emulator: the exp2 polynomial's maximum relative error, printed and bounded") {
  // 2^f on [0, 1): every 2^-20 step (the fp32 grid near 1 is 2^-24; 2^-20 spans the extrema).
  double worst_frac = 0, at = 0;
  for (int i = 0; i < (1 << 20); ++i) {
    const float f = static_cast<float>(i) / static_cast<float>(1 << 20);
    const double r = std::fabs(static_cast<double>(nu::poly_frac(f, nu::Poly())) / std::exp2(static_cast<double>(f)) - 1.0);
    if (r > worst_frac) { worst_frac = r; at = f; }
  }
  // The whole emulation (clamp, floor by add.rm, polynomial, exponent add) over the range the
  // softmax feeds it: x = s * scale_log2 - m in [-126, 8] (8: the lazy-rescale threshold).
  double worst_x = 0;
  int exact_pow2 = 0;
  for (int i = 0; i <= 134 * 4096; ++i) {
    const float x = -126.0f + static_cast<float>(i) / 4096.0f;
    const float y = nu::ex2_poly(x);
    const double r = std::fabs(static_cast<double>(y) / std::exp2(static_cast<double>(x)) - 1.0);
    worst_x = std::max(worst_x, r);
    if (x == std::floor(x)) exact_pow2 += y == std::ldexp(1.0f, static_cast<int>(x)) ? 1 : 0;
  }
  MESSAGE("ex2 polynomial (degree 3, minimax, p(0) = 1; c1 = " << nu::bits_f(nu::kPolyC1Bits) << ", c2 = " << nu::bits_f(nu::kPolyC2Bits)
                                                                 << ", c3 = " << nu::bits_f(nu::kPolyC3Bits) << "): max relative error "
                                                                 << worst_frac << " at f = " << at << " (2^" << std::log2(worst_frac)
                                                                 << "); over x in [-126, 8]: " << worst_x
                                                                 << "; bf16 rounding of P: 2^-9 = " << std::ldexp(1.0, -9));
  CHECK(worst_frac < 1.0e-4);  // Remez optimum of this form: 8.56e-5; fp32 Horner adds < 1e-7
  CHECK(worst_x < 1.0e-4);
  CHECK(exact_pow2 == 135);     // 2^k exact at every integer k in [-126, 8]
  // Below the clamp the result is tiny, never larger than 2^-126.
  CHECK(nu::ex2_poly(-200.0f) <= std::ldexp(1.0f, -126));
  // The bound can fail: a coefficient off in its third decimal breaks it.
  nu::Poly bad;
  bad.c2 += 1e-3f;
  double worst_bad = 0;
  for (int i = 0; i < 4096; ++i) {
    const float f = static_cast<float>(i) / 4096.0f;
    worst_bad = std::max(worst_bad, std::fabs(static_cast<double>(nu::poly_frac(f, bad)) / std::exp2(static_cast<double>(f)) - 1.0));
  }
  CHECK(worst_bad > 1.0e-4);
}

TEST_CASE("sm100a numerics emulator: new design and serial kernels vs the float64 reference over the GPU sweep's shapes") {
  // (sq, sk) pairs from the GPU sweep's lengths; each (causal, GQA) combination takes every
  // other pair so that all lengths appear while the CPU time stays small.
  const int pairs[][2] = {{1, 1},     {17, 129}, {64, 2048}, {127, 193}, {128, 128}, {129, 64},
                          {193, 1000}, {1000, 17}, {2048, 1},  {128, 1000}, {257, 257}, {17, 17}};
  std::map<std::string, Worst> worst;
  int combo = 0;
  for (const sm100_design::FwdDesign* d : sm100_design::kDesigns) {
    for (int causal = 0; causal <= 1; ++causal)
      for (int gqa : {1, 2}) {
        ++combo;
        for (std::size_t pi = 0; pi < sizeof(pairs) / sizeof(pairs[0]); ++pi) {
          if ((pi + static_cast<std::size_t>(combo)) % 2 != 0) continue;
          const int sq = pairs[pi][0], sk = pairs[pi][1];
          const uint64_t seed = 0xA11CE5ull ^ (uint64_t(d->head_dim) << 40) ^ (uint64_t(causal) << 36) ^ (uint64_t(gqa) << 32) ^
                                (uint64_t(sq) << 16) ^ uint64_t(sk);
          const Problem p = make_problem(d->head_dim, sq, sk, 2, 2 / gqa, causal != 0, seed);
          std::vector<double> ro, rl;
          ptxfmha::reference_fwd(p.s, p.q.data(), p.k.data(), p.v.data(), ro, rl);
          const std::string shape = "hd" + std::to_string(d->head_dim) + (causal ? " causal" : "") + " gqa" + std::to_string(gqa) +
                                    " sq" + std::to_string(sq) + " sk" + std::to_string(sk);
          const bool a = check(p, ro, rl, new_design(*d), worst["new hd" + std::to_string(d->head_dim)], "new " + shape);
          const bool b = check(p, ro, rl, serial_kernel(d->head_dim), worst["serial hd" + std::to_string(d->head_dim)], "serial " + shape);
          CHECK_MESSAGE(a, "new design " << shape);
          CHECK_MESSAGE(b, "serial " << shape);
        }
      }
    // Every column on the polynomial (the worst split), and large scores (|s| up to ~1e3, the
    // rescale path and the 2^8 threshold every tile).
    {
      const Problem p = make_problem(d->head_dim, 200, 700, 2, 1, false, 0xB16ull + d->head_dim);
      std::vector<double> ro, rl;
      ptxfmha::reference_fwd(p.s, p.q.data(), p.k.data(), p.v.data(), ro, rl);
      nu::Config all = new_design(*d);
      all.poly_cols_per_32 = 32;
      CHECK(check(p, ro, rl, all, worst["new hd" + std::to_string(d->head_dim) + ", all ex2 on FMA"], "all-poly"));
    }
    {
      const Problem p = make_problem(d->head_dim, 300, 600, 2, 2, true, 0xB17ull + d->head_dim, 12.0f);
      std::vector<double> ro, rl;
      ptxfmha::reference_fwd(p.s, p.q.data(), p.k.data(), p.v.data(), ro, rl);
      CHECK(check(p, ro, rl, new_design(*d), worst["new hd" + std::to_string(d->head_dim) + ", large scores"], "large scores new"));
      CHECK(check(p, ro, rl, serial_kernel(d->head_dim), worst["serial hd" + std::to_string(d->head_dim) + ", large scores"], "large scores serial"));
    }
  }
  std::string table = "\n  emulation | cases | max abs (O) | rel. L2 (O) | min cosine | max abs (LSE) | failed";
  for (const auto& kv : worst) {
    char b[256];
    std::snprintf(b, sizeof b, "\n  %s | %d | %.3g | %.3g | %.7f | %.3g | %d%s%s", kv.first.c_str(), kv.second.cases, kv.second.max_abs,
                  kv.second.rel_l2, kv.second.cos, kv.second.lse, kv.second.failed, kv.second.first_fail.empty() ? "" : ": ",
                  kv.second.first_fail.c_str());
    table += b;
  }
  MESSAGE("sm100a numerics emulator vs float64 reference (bounds: rel L2 2e-2, cosine 0.9999, 2e-2 + 2e-2|ref|, LSE 1e-3 + 2e-5|ref|):" << table);
}

TEST_CASE("sm100a numerics emulator: the kernels' exp2 instructions, interpreted, equal the emulator bit for bit") {
  const auto& ks = twotile_kernels();
  REQUIRE(ks.size() == 6);  // plain and EXT rows: the same exp2 code
  for (const Kernel& k : ks) {
    INFO(k.name);
    const std::vector<sm100_ptx::Stmt> st = softmax_statements(k);
    // The constants as the softmax sets them up (its mov.f32 / mov.b64 pairs), from the PTX.
    Interp base;
    for (const sm100_ptx::Stmt& s : st) {
      const std::string b = sm100_ptx::body(s.text);
      if (b.rfind("mov.f32 %tf, 0f", 0) == 0 || (b.rfind("mov.b64 %", 0) == 0 && b.find("{%tf, %tf}") != std::string::npos)) {
        REQUIRE_MESSAGE(base.step(s.text), base.error);
      }
    }
    for (const char* c : {"%magic2.lo", "%c1_2.lo", "%c2_2.lo", "%c3_2.lo", "%one2.lo"}) REQUIRE_MESSAGE(base.r.count(c), c);
    const nu::Config cfg = kernel_config(k);
    CHECK(base.r["%c1_2.lo"] == nu::f_bits(cfg.poly.c1));
    CHECK(base.r["%c2_2.lo"] == nu::f_bits(cfg.poly.c2));
    CHECK(base.r["%c3_2.lo"] == nu::f_bits(cfg.poly.c3));
    const std::vector<std::string> poly = exp2_pair_code(st, true), mufu = exp2_pair_code(st, false);
    REQUIRE_MESSAGE(poly.size() >= 10, "no polynomial exp2 pair found in the softmax");
    REQUIRE_MESSAGE(mufu.size() >= 4, "no MUFU exp2 pair found in the softmax");
    // Its score registers: the pack of the pair's first instruction.
    std::string op;
    const auto regs = Interp::list(Interp::operands(sm100_ptx::body(poly[0]), &op)[1]);
    const auto mregs = Interp::list(Interp::operands(sm100_ptx::body(mufu[0]), &op)[1]);
    REQUIRE(regs.size() == 2);
    REQUIRE(mregs.size() == 2);
    // Scores s with scale_log2 and m chosen so that x = s * scale - m covers [-140, 8] (the clamp,
    // every integer, the fractions between) at fp32 resolution steps of 2^-10.
    long mismatches = 0, n = 0;
    const float scale = 1.4426950408889634f * 0.125f, m = 3.0f;
    for (int i = -140 * 1024; i <= 8 * 1024; i += 7) {
      const float x_target = static_cast<float>(i) / 1024.0f;
      const float s = (x_target + m) / scale;
      const float s2 = -s * 0.5f;
      Interp in = base;
      in.set2("%scale2", scale, scale);
      in.set2("%nm2", -m, -m);
      in.r[regs[0]] = nu::f_bits(s);
      in.r[regs[1]] = nu::f_bits(s2);
      for (const std::string& t : poly) REQUIRE_MESSAGE(in.step(t), in.error);
      const float want0 = nu::ex2_poly(std::fmaf(s, scale, -m), cfg.poly), want1 = nu::ex2_poly(std::fmaf(s2, scale, -m), cfg.poly);
      mismatches += (in.r[regs[0]] != nu::f_bits(want0)) + (in.r[regs[1]] != nu::f_bits(want1));
      Interp mi = base;
      mi.set2("%scale2", scale, scale);
      mi.set2("%nm2", -m, -m);
      mi.r[mregs[0]] = nu::f_bits(s);
      mi.r[mregs[1]] = nu::f_bits(s2);
      for (const std::string& t : mufu) REQUIRE_MESSAGE(mi.step(t), mi.error);
      mismatches += (mi.r[mregs[0]] != nu::f_bits(nu::ex2_mufu(std::fmaf(s, scale, -m)))) +
                    (mi.r[mregs[1]] != nu::f_bits(nu::ex2_mufu(std::fmaf(s2, scale, -m))));
      n += 4;
    }
    CHECK_MESSAGE(mismatches == 0, mismatches << " of " << n << " exp2 results of the interpreted PTX differ from the emulator");
    // The interpretation can fail: a coefficient of the PTX changed by one ulp changes results.
    Interp bad = base;
    bad.r["%c2_2.lo"] += 1;
    bad.set2("%scale2", 1.0f, 1.0f);
    bad.set2("%nm2", 0.0f, 0.0f);
    long diff = 0;
    for (int i = 0; i < 1024; ++i) {
      Interp in = bad;
      const float x = -3.0f + static_cast<float>(i) / 1024.0f;
      in.r[regs[0]] = nu::f_bits(x);
      in.r[regs[1]] = nu::f_bits(x);
      for (const std::string& t : poly) REQUIRE(in.step(t));
      diff += in.r[regs[0]] != nu::f_bits(nu::ex2_poly(x, cfg.poly));
    }
    CHECK(diff > 0);
    MESSAGE(k.name << ": the polynomial exp2 pair (" << poly.size() << " instructions) and the MUFU pair (" << mufu.size()
                   << " instructions) of the PTX interpreted on " << n << " scores: bit-exact with the emulator");
  }
}

TEST_CASE("sm100a numerics emulator: a broken rescale or exponent is caught by the same comparison") {
  // Large scores make the row max move by more than 2^8 inside a row: skipping the O rescale
  // (the correction warpgroup's job) must fail the bounds; so must a wrong polynomial.
  const Problem p = make_problem(128, 256, 1024, 1, 1, false, 0xBADull, 12.0f);
  std::vector<double> ro, rl;
  ptxfmha::reference_fwd(p.s, p.q.data(), p.k.data(), p.v.data(), ro, rl);
  Worst w;
  nu::Config ok = new_design(sm100_design::kD128);
  CHECK(check(p, ro, rl, ok, w, "clean"));
  nu::Config bug = ok;
  bug.bug_no_o_rescale = true;
  CHECK_FALSE(check(p, ro, rl, bug, w, "no O rescale"));
  nu::Config badpoly = ok;
  badpoly.poly_cols_per_32 = 32;
  badpoly.poly.c1 *= 1.05f;
  CHECK_FALSE(check(p, ro, rl, badpoly, w, "wrong c1"));
}

// ---- the EXT variant (issue 14): softcap, ALiBi, sinks and the window's band ----------------------
namespace {
struct FeatCase {
  const char* what;
  int sq, sk, causal, left, right;
  float softcap;
  bool alibi;
  std::vector<float> sinks;  // per query head (2 heads); empty: none
};
// One EXT emulation of kernel config cfg against reference_attn, bounds as check() but the LSE's
// widened by the softcap's tanh.approx (|d LSE| <= cap x 2^-11, natural units) where it is on.
bool check_feat(const sm100_design::FwdDesign& d, const FeatCase& f, nu::Config cfg, Worst& w, std::string* why,
                const std::function<void(nu::Config&)>& tamper = {}) {
  Problem p = make_problem(d.head_dim, f.sq, f.sk, 2, 1, f.causal != 0, 0xFEA7ull ^ (uint64_t(d.head_dim) << 20) ^ uint64_t(f.sq * 7 + f.sk));
  ptxfmha::RefAttnProblem rp;
  rp.batch = 1, rp.heads_q = 2, rp.heads_kv = 1, rp.head_dim = d.head_dim;
  rp.softmax_scale = p.s.softmax_scale;
  rp.causal = f.causal != 0;
  rp.window_left = f.left, rp.window_right = f.right;
  rp.softcap = f.softcap;
  if (f.alibi) rp.alibi_slopes = {0.25f, 0.0625f};
  rp.sink_logits = f.sinks;
  rp.seqlen_q = f.sq, rp.seqlen_k = f.sk;
  for (int i = 0; i < 3; ++i) {
    rp.q_stride[i] = p.s.q_stride[i];
    rp.k_stride[i] = p.s.k_stride[i];
    rp.v_stride[i] = p.s.v_stride[i];
  }
  ptxfmha::RefAttnResult ref;
  ptxfmha::reference_attn(rp, p.q.data(), p.k.data(), p.v.data(), &ref);
  // The kernel's block (host/src/fwd.cpp attn_ext_fields): canonical window, score constants.
  const ptxfmha::AttnWindow win = ptxfmha::canonical_window(f.causal, f.left, f.right, f.sq, f.sk);
  cfg.feat.enabled = true;
  cfg.feat.window_left = win.left;
  cfg.feat.window_right = win.right;
  const double scale = p.s.softmax_scale;
  if (f.softcap > 0) {
    cfg.feat.softcap_pre = static_cast<float>(scale / f.softcap);
    cfg.feat.softcap_post = static_cast<float>(f.softcap / scale);
  }
  for (float a : rp.alibi_slopes) cfg.feat.alibi.push_back(a * static_cast<float>(-1.0 / scale));
  cfg.feat.sinks = f.sinks;
  p.s.causal = false;  // the band carries causal (window_right 0)
  if (tamper) tamper(cfg);  // an injected bug (the test shows the comparison catches it)
  std::vector<double> o, lse;
  nu::emulate_fwd(p.s, p.q.data(), p.k.data(), p.v.data(), cfg, o, lse);
  const double lse_abs = 1e-3 + (f.softcap > 0 ? f.softcap * std::ldexp(1.0, -11) : 0.0);
  const ptxfmha::ErrorStats e = ptxfmha::compare(o.data(), ref.o.data(), o.size(), 2e-2, 2e-2);
  const ptxfmha::ErrorStats el = ptxfmha::compare(lse.data(), ref.lse.data(), lse.size(), lse_abs, 2e-5);
  const bool ok = w.add(e, el);
  char b[256];
  std::snprintf(b, sizeof b, "hd%d %s: max_abs %.3g rel_l2 %.3g cos %.7f lse %.3g (first bad O %lld, LSE %lld)", d.head_dim, f.what,
                e.max_abs, e.rel_l2, e.cosine, el.max_abs, e.first_bad, el.first_bad);
  *why = b;
  if (!ok) ++w.failed;
  return ok;
}
const std::vector<FeatCase>& feat_cases() {
  static const std::vector<FeatCase> v = {
      {"window 64 left, causal (band skips tiles)", 700, 900, 1, 64, -1, 0, false, {}},
      {"two-sided window 100 / 37", 513, 1000, 0, 100, 37, 0, false, {}},
      {"window 1 (rows without keys)", 300, 129, 0, 1, 1, 0, false, {}},
      {"softcap 5", 257, 300, 0, -1, -1, 5.0f, false, {}},
      {"softcap 50, causal", 129, 500, 1, -1, -1, 50.0f, false, {}},
      {"ALiBi", 200, 333, 0, -1, -1, 0, true, {}},
      {"sinks -10 / 0", 65, 129, 0, -1, -1, 0, false, {-10.0f, 0.0f}},
      {"sinks 10, window 1 (sink-only rows)", 300, 129, 0, 1, 1, 0, false, {10.0f, 10.0f}},
      {"everything: window 128 causal, softcap 30, ALiBi, sinks", 600, 700, 1, 128, -1, 30.0f, true, {0.5f, -2.0f}},
  };
  return v;
}
}  // namespace

TEST_CASE("sm100a numerics emulator: the EXT variant's window, softcap, ALiBi and sinks vs the float64 reference") {
  std::map<std::string, Worst> worst;
  for (const sm100_design::FwdDesign* d : sm100_design::kDesigns) {
    const nu::Config cfg = new_design(*d);
    for (const FeatCase& f : feat_cases()) {
      std::string why;
      CHECK_MESSAGE(check_feat(*d, f, cfg, worst[std::string("hd") + std::to_string(d->head_dim) + " " + f.what], &why), why);
    }
  }
  std::string table = "\n  EXT emulation | max abs (O) | rel. L2 (O) | min cosine | max abs (LSE) | failed";
  for (const auto& kv : worst) {
    char b[256];
    std::snprintf(b, sizeof b, "\n  %s | %.3g | %.3g | %.7f | %.3g | %d", kv.first.c_str(), kv.second.max_abs, kv.second.rel_l2,
                  kv.second.cos, kv.second.lse, kv.second.failed);
    table += b;
  }
  MESSAGE("sm100a EXT numerics emulator vs reference_attn (LSE bound 1e-3 + cap 2^-11 with softcap):" << table);
  // The comparison can fail: a sink left out of O's normaliser, ALiBi with the wrong sign, the
  // softcap's argument on the wrong scale, the band's left edge ignored.
  const sm100_design::FwdDesign& d = *sm100_design::kDesigns[1];
  struct Bug {
    const char* what;
    std::size_t feat_case;
    std::function<void(nu::Config&)> inject;
  };
  const std::vector<Bug> bugs = {
      {"sink not in O's normaliser", 7, [](nu::Config& c) { c.feat.bug_sink_not_in_o = true; }},
      {"ALiBi sign flipped", 5, [](nu::Config& c) { for (float& a : c.feat.alibi) a = -a; }},
      {"softcap's tanh argument off by 10x (the cap on the wrong scale)", 4, [](nu::Config& c) { c.feat.softcap_pre *= 10.0f; }},
      {"the band's left edge ignored", 0, [](nu::Config& c) { c.feat.window_left = -1; }},
      // seqused_k / paged K/V: rows past the keys hold NaN; without the V tail fix P = 0 meets
      // them in P V (case 2: 129 keys, the last tile's other rows inside the tensor)
      {"V rows past the keys not zeroed (NaN in P V)", 2, [](nu::Config& c) { c.feat.nan_rows = 1 << 20; c.feat.v_tail_fix = false; }},
  };
  for (const Bug& b : bugs) {
    Worst w;
    std::string why;
    const bool ok = check_feat(d, feat_cases()[b.feat_case], new_design(d), w, &why, b.inject);
    CHECK_MESSAGE(!ok, "the injected bug '" << b.what << "' went unnoticed: " << why);
  }
}
