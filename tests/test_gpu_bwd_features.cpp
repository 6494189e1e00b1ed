// GPU tests of the backward's serving features (suite "gpu-sm90a"; skipped without a device):
// sliding window (with and without causal), softcap, ALiBi (the fmha_bwd_d*_ext_sm90a main
// kernels) and sink logits (the LSE of the forward holds them; any main kernel), each alone
// and combined, per head dim, with odd lengths (1 included), seqlen_q != seqlen_k, GQA 1 / 4 /
// 8, rows that see no key and CTAs whose keys no query sees (dK = dV = 0), both modes; the
// deterministic mode bitwise over 3 runs; d_sink (fmha_bwd_dsink) against its formula and the
// reference; variable length refused. Inputs: Q, K, V, dO random; O and LSE from the
// forward's float64 feature reference (ptxfmha::reference_attn; O rounded to bf16); expected
// gradients from ptxfmha::reference_bwd with the same features (tests/test_cpu_bwd_features.cpp
// checks it by finite differences); bounds as every backward GPU test (bwd_test_util.h).
// Run alone: build/tests/ptxfmha_tests -tc='gpu bwd features*' (about 10 s on an H200).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "bwd_test_util.h"

using namespace ptxfmha_test;

namespace {

struct FeatureSpec {
  const char* what;
  int batch, sq, sk, hq, hkv;
  bool causal;
  int wl, wr;
  float softcap;
  bool alibi, sinks, det;
};

BwdProblem feature_problem(const FeatureSpec& f, int d) {
  BwdProblem p = bwd_problem(f.batch, f.sq, f.sk, f.hq, f.hkv, d, f.causal, f.det);
  p.window_left = f.wl;
  p.window_right = f.wr;
  p.softcap = f.softcap;
  for (int h = 0; h < f.hq; ++h) {
    if (f.alibi) p.alibi.push_back(0.5f / float(1 << (h % 8)));
    if (f.sinks) p.sinks.push_back(1.0f - 0.5f * float(h % 5));
  }
  return p;
}

// One case: the outputs against the reference; deterministic: 3 runs bitwise identical.
// Returns "" when it held.
std::string run_feature_case(const BwdProblem& p, uint64_t seed) {
  const BwdHostInputs in = bwd_inputs(p, seed);
  const BwdReference ref = bwd_reference(p, in);
  BwdDeviceCase dc(p, in);
  BwdOutputs first;
  dc.run(&first);
  const BwdFigures f = evaluate_bwd(p, first, ref);
  std::string why = bwd_failure(p, f);
  for (int r = 1; r < (p.deterministic ? 3 : 1); ++r) {
    BwdOutputs again;
    dc.run(&again);
    if (!first.same_bits(again, true)) why += " | NOT bitwise identical over 3 deterministic runs";
  }
  std::printf("[ptxfmha-tests] bwd features %-s: dQ rel_l2=%.3e dK rel_l2=%.3e dV rel_l2=%.3e worst/bound %.2f %.2f %.2f%s\n",
              describe(p).c_str(), f.dq.e.rel_l2, f.dk.e.rel_l2, f.dv.e.rel_l2, f.dq.worst_ratio, f.dk.worst_ratio,
              f.dv.worst_ratio, why.empty() ? "" : "  FAILED");
  return why;
}

const FeatureSpec kSpecs[] = {
    // what                                   B   Sq   Sk  Hq Hkv causal  wl   wr  softcap alibi sinks det
    {"window (32, 8)",                        1, 300, 300,  4, 1, false,  32,   8, 0.0f, false, false, false},
    {"window left 40 + causal, Sq < Sk",      1, 257, 300,  8, 1, true,   40,  -1, 0.0f, false, false, false},
    {"window left only, Sq > Sk",             2, 200,  77,  2, 2, false,  20,  -1, 0.0f, false, false, false},
    {"window right only (3)",                 1, 129, 200,  4, 4, false,  -1,   3, 0.0f, false, false, false},
    {"window left 5, Sq 1 (most CTAs empty)", 1,   1, 700,  4, 1, false,   5,  -1, 0.0f, false, false, false},
    {"window (0, 0), lengths 1",              1,   1,   1,  1, 1, false,   0,   0, 0.0f, false, false, false},
    {"softcap 5 + causal",                    1, 200, 129,  4, 1, true,   -1,  -1, 5.0f, false, false, false},
    {"softcap 2, non-causal",                 2,  65, 300,  2, 1, false,  -1,  -1, 2.0f, false, false, false},
    {"ALiBi",                                 1, 129,  77,  8, 1, false,  -1,  -1, 0.0f, true,  false, false},
    {"ALiBi + causal",                        1, 300, 300,  4, 4, true,   -1,  -1, 0.0f, true,  false, false},
    {"sinks (plain kernel)",                  1,  65, 130,  4, 1, true,   -1,  -1, 0.0f, false, true,  false},
    {"sinks + window, rows without keys",     1, 190,  64,  2, 2, true,   16,  -1, 0.0f, false, true,  false},
    {"all: window+causal, softcap, ALiBi, sinks", 2, 333, 301, 8, 1, true, 50, -1, 3.0f, true,  true,  false},
    {"all, deterministic",                    1, 700, 650,  4, 1, true,   96,  -1, 3.0f, true,  true,  true},
    {"window (64, 16), deterministic, GQA 4", 1, 1024, 1024, 4, 1, false, 64,  16, 0.0f, false, false, true},
};

}  // namespace

TEST_CASE("gpu bwd features: window, softcap, ALiBi, sinks alone and combined, per head dim" *
          doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  uint64_t seed = 7000;
  int cases = 0, failed = 0;
  for (int d : bwd_head_dims())
    for (const FeatureSpec& s : kSpecs) {
      const BwdProblem p = feature_problem(s, d);
      const std::string why = run_feature_case(p, seed++);
      ++cases;
      if (!why.empty()) ++failed;
      CHECK_MESSAGE(why.empty(), "d" << d << " " << std::string(s.what) << ": " << why << " [" << describe(p) << "]");
    }
  MESSAGE("gpu bwd features: " << cases << " cases, " << failed << " failed");
}

TEST_CASE("gpu bwd features: the ext kernel without a feature equals the plain kernel's gradients" *
          doctest::test_suite("gpu-sm90a")) {
  // fmha_bwd_d*_ext_sm90a forced on a plain causal problem (window_right 0 = causal): within
  // the bounds of the reference like the plain kernel; the deterministic runs bitwise equal.
  REQUIRE(ensure_context());
  for (int d : bwd_head_dims()) {
    const ptxfmha::KernelInfo* ext = ptxfmha::find_bwd_ext_row(gpu().info.sm, d, ptxfmha::kAttnWindow);
    REQUIRE(ext != nullptr);
    BwdProblem p = bwd_problem(1, 333, 301, 4, 2, d, true, true);
    const BwdHostInputs in = bwd_inputs(p, 8100 + d);
    const BwdReference ref = bwd_reference(p, in);
    BwdDeviceCase dc(p, in);
    BwdOutputs a, b;
    dc.run(&a, false, nullptr, 0, ext);
    dc.run(&b, false, nullptr, 0, ext);
    const BwdFigures f = evaluate_bwd(p, a, ref);
    CHECK_MESSAGE(bwd_failure(p, f).empty(), ext->name << ": " << bwd_failure(p, f));
    CHECK(a.same_bits(b, true));
  }
}

TEST_CASE("gpu bwd features: a bad variable-length argument is refused before anything is written" *
          doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  const int d = bwd_head_dims().front();
  const BwdProblem p = bwd_problem(1, 70, 90, 2, 1, d, true);
  const BwdHostInputs in = bwd_inputs(p, 8200);
  BwdDeviceCase dc(p, in);
  DeviceBuffer cus;
  cus.alloc(2 * 4);
  dc.poison();
  PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
  ptxfmha_bwd_params a = dc.params();
  a.cu_seqlens_q = static_cast<const int32_t*>(cus.get());  // with seqlen_q = 70: must be 0
  CHECK(ptxfmha_bwd(&a) == PTXFMHA_ERR_INVALID_ARGUMENT);
  CHECK(std::string(ptxfmha_last_error()).find("seqlen_q = 70 must be 0 with cu_seqlens_q") != std::string::npos);
  PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
  BwdOutputs out;
  dc.download(&out);
  for (const auto* x : {&out.dq, &out.dk, &out.dv})
    CHECK(std::all_of(x->begin(), x->end(), [](uint16_t v) { return v == kPoisonBf16; }));
}

TEST_CASE("gpu bwd features: d_sink (fmha_bwd_dsink) against -sum exp(t - LSE) D, both modes" *
          doctest::test_suite("gpu-sm90a")) {
  // Expected from the kernels' own inputs (the fp32 LSE given, D of the given bf16 O), within
  // 1e-4 of the sum of the terms' magnitudes (fp32 sums of up to a few thousand terms), and
  // against the float64 reference's d_sink (exact LSE) within 1e-3; bitwise equal over runs.
  REQUIRE(ensure_context());
  uint64_t seed = 8300;
  for (int d : bwd_head_dims())
    for (int det = 0; det <= 1; ++det) {
      BwdProblem p = bwd_problem(2, 190, 64, 4, 2, d, true, det != 0);  // rows without keys: LSE = t
      p.sinks = {0.5f, -1.0f, 2.0f, 0.0f};
      if (det) { p.window_left = 20; p.softcap = 3.0f; p.alibi = {0.5f, 0.25f, 0.125f, 0.0625f}; }
      const BwdHostInputs in = bwd_inputs(p, seed++);
      const BwdReference ref = bwd_reference(p, in);
      BwdDeviceCase dc(p, in);
      DeviceBuffer dsink;
      dsink.alloc(std::size_t(p.heads_q) * 4);
      std::vector<float> got[2];
      for (int run = 0; run < 2; ++run) {
        dsink.fill32(kPoisonF32, std::size_t(p.heads_q));
        dc.poison();
        ptxfmha_bwd_params a = dc.params();
        a.d_sink = static_cast<float*>(dsink.get());
        const ptxfmha_status st = ptxfmha_bwd(&a);
        REQUIRE_MESSAGE(st == PTXFMHA_OK, ptxfmha_last_error());
        PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
        dsink.download(got[run], std::size_t(p.heads_q));
        BwdOutputs out;
        dc.download(&out);
        const BwdFigures f = evaluate_bwd(p, out, ref);
        CHECK_MESSAGE(bwd_failure(p, f).empty(), "with d_sink: " << bwd_failure(p, f) << " [" << describe(p) << "]");
      }
      CHECK(std::memcmp(got[0].data(), got[1].data(), got[0].size() * 4) == 0);
      for (int h = 0; h < p.heads_q; ++h) {
        double want = 0, mag = 0;
        for (int b = 0; b < p.batch; ++b)
          for (int i = 0; i < p.seqlen_q; ++i) {
            const std::size_t ri = (std::size_t(b) * p.heads_q + h) * p.seqlen_q + i;
            const double t = std::exp(double(p.sinks[std::size_t(h)]) - double(in.lse[ri])) * ref.dsum[ri];
            want -= t;
            mag += std::fabs(t);
          }
        const double g = got[0][std::size_t(h)];
        CHECK_MESSAGE(std::fabs(g - want) <= 1e-4 * mag + 1e-6,
                      "d_sink[" << h << "] = " << g << ", expected " << want << " (terms' magnitude " << mag << ") ["
                                << describe(p) << "]");
        CHECK_MESSAGE(std::fabs(g - ref.d_sink[std::size_t(h)]) <= 1e-3 * mag + 1e-6,
                      "d_sink[" << h << "] = " << g << ", float64 reference " << ref.d_sink[std::size_t(h)]);
        std::printf("[ptxfmha-tests] bwd d_sink d%d det=%d h=%d: got %.6e want %.6e ref %.6e\n", d, det, h, g, want,
                    ref.d_sink[std::size_t(h)]);
      }
    }
}
