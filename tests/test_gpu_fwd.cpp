// GPU tests (suite "gpu-fwd"): every forward kernel of the device's architecture against the
// float64 reference over head dims x causal x sequence lengths (query and key lengths drawn
// independently) x GQA ratios. Fresh N(0,1) bf16 inputs per case, outputs poisoned before
// every launch, O and LSE compared, two launches bitwise equal. One MESSAGE line per case;
// main.cpp prints the worst figures per kernel after the run.
#include <doctest/doctest.h>

#include <string>

#include "gpu_util.h"

using namespace ptxfmha_test;

namespace {

const int kSeqlens[] = {1, 17, 64, 127, 128, 129, 1000, 2048};

uint64_t case_seed(int head_dim, int causal, int gqa, int sq, int sk) {
  return 0x9E3779B97F4A7C15ull ^ (uint64_t(head_dim) << 48) ^ (uint64_t(causal) << 44) ^
         (uint64_t(gqa) << 40) ^ (uint64_t(sq) << 20) ^ uint64_t(sk);
}

}  // namespace

TEST_CASE("gpu fwd: kernels x causal x seqlen_q x seqlen_k x GQA {1,4} against the float64 reference" *
          doctest::test_suite("gpu-fwd")) {
  REQUIRE(ensure_context());
  const auto rows = testable_fwd_rows();
  REQUIRE(!rows.empty());
  int cases = 0, failed = 0;
  for (const ptxfmha::KernelInfo* row : rows) {
    const std::string name = row->name;
    for (int causal = 0; causal <= 1; ++causal)
      for (int gqa : {1, 4})
        for (int sq : kSeqlens)
          for (int sk : kSeqlens) {
            // Small problems get two batches (batch stride exercised); long ones one, to
            // keep the float64 reference fast. Four query heads; GQA 4 shares one KV head.
            const int batch = (int64_t(sq) * sk <= 128 * 128) ? 2 : 1;
            FwdProblem p = fwd_problem(batch, sq, sk, 4, 4 / gqa, row->head_dim, causal != 0);
            const FwdHostInputs in = random_inputs(p, case_seed(row->head_dim, causal, gqa, sq, sk));
            const FwdReference ref = reference(p, in);
            ++cases;
            if (!run_and_check(name, p, in, ref)) ++failed;
          }
  }
  MESSAGE("gpu fwd sweep: " << cases << " cases, " << failed << " failed");
}

// Small and odd shapes for compute-sanitizer (tools/gpu-check.sh runs this test case under
// memcheck, racecheck, synccheck and initcheck): a full tile; residue tiles with causal
// masking and GQA 4; more queries than keys (rows that see no key); padded strides.
TEST_CASE("gpu fwd: sanitizer shapes (small, odd, residue tiles, causal, GQA)" * doctest::test_suite("gpu-fwd")) {
  REQUIRE(ensure_context());
  const auto rows = testable_fwd_rows();
  REQUIRE(!rows.empty());
  for (const ptxfmha::KernelInfo* row : rows) {
    const int d = row->head_dim;
    std::vector<FwdProblem> problems;
    problems.push_back(fwd_problem(1, 128, 128, 2, 2, d, false));
    problems.push_back(fwd_problem(2, 129, 200, 4, 1, d, true));
    problems.push_back(fwd_problem(1, 200, 77, 2, 1, d, true));
    FwdProblem padded = fwd_problem(1, 65, 131, 4, 2, d, false);
    padded.q = make_layout(1, 65, 4, d, Order::BSHD, 8, 16, 0);
    padded.k = make_layout(1, 131, 2, d, Order::BHSD, 8, 0, 0);
    padded.v = make_layout(1, 131, 2, d, Order::BSHD, 0, 8, 0);
    padded.o = make_layout(1, 65, 4, d, Order::BSHD, 8, 24, 0);
    problems.push_back(padded);
    uint64_t seed = 1234;
    for (const FwdProblem& p : problems) {
      const FwdHostInputs in = random_inputs(p, seed++);
      run_and_check(std::string(row->name) + " (sanitizer shapes)", p, in, reference(p, in));
    }
  }
}

// Comparison variants (rows ptxfmha_fwd never selects, e.g. sm100a's P-through-shared-memory
// kernels) run through ptxfmha::fwd_with_row on the sanitizer shapes and a sweep of lengths.
// Where the device's arch has no such row (sm90a today) the case checks only the refusal of a
// row that cannot serve the call.
TEST_CASE("gpu fwd: comparison variants via fwd_with_row (sanitizer shapes and a sweep)" *
          doctest::test_suite("gpu-fwd")) {
  REQUIRE(ensure_context());
  const auto defaults = testable_fwd_rows();
  REQUIRE(!defaults.empty());
  // A row for another head dim is refused before anything is written.
  {
    const ptxfmha::KernelInfo* row = defaults.front();
    FwdProblem p = fwd_problem(1, 64, 64, 2, 2, row->head_dim == 64 ? 128 : 64, false);
    const ptxfmha::KernelInfo* wrong = row;
    p.row = wrong;
    FwdDeviceCase dc(p, random_inputs(p, 7));
    CHECK(dc.launch() == PTXFMHA_ERR_INVALID_ARGUMENT);
    CHECK(std::string(ptxfmha_last_error()).find(wrong->name) != std::string::npos);
    PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
    FwdOutputs out;
    dc.download(&out);
    CHECK(std::all_of(out.o.begin(), out.o.end(), [](uint16_t x) { return x == kPoisonBf16; }));
  }
  const auto variants = variant_fwd_rows();
  MESSAGE("comparison variants on this device: " << variants.size());
  for (const ptxfmha::KernelInfo* row : variants) {
    const int d = row->head_dim;
    std::vector<FwdProblem> problems;
    problems.push_back(fwd_problem(1, 128, 128, 2, 2, d, false));
    problems.push_back(fwd_problem(2, 129, 200, 4, 1, d, true));
    problems.push_back(fwd_problem(1, 200, 77, 2, 1, d, true));
    for (int s : {1, 17, 127, 1000}) problems.push_back(fwd_problem(1, s, s + 3, 4, 2, d, s % 2 == 1));
    uint64_t seed = 4321;
    for (FwdProblem& p : problems) {
      p.row = row;
      const FwdHostInputs in = random_inputs(p, seed++);
      run_and_check(std::string(row->name) + " (variant)", p, in, reference(p, in));
    }
  }
}
