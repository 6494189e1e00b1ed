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

const int kSeqlens[] = {1, 17, 64, 127, 128, 129, 193, 1000, 2048};

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
// masking and GQA 4; more queries than keys (rows that see no key); padded strides; more
// causal tiles than SMs (the dynamic tile scheduler).
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
    // More causal tiles (9 m-blocks of 128 rows or 6 of 192 (d64) x 28 heads) than SMs: CTAs
    // take tiles from the stream's tile counter; rows 0..199 see no key (tiles without
    // loads), GQA 4.
    problems.push_back(fwd_problem(1, 1100, 900, 28, 7, d, true));
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

// The dynamic tile scheduler of the persistent (TileLoop) kernels: causal problems with many
// more work tiles than SMs, several launches back to back on one stream (each must find the
// stream's counter at zero, so the previous launch must have reset it), tiles without any
// visible key (seqlen_q > seqlen_k) and head groups of several sizes (the L2-sized tile
// order); every result against the float64 reference, and the counter pair {next, done} read
// back: zero after the launches.
TEST_CASE("gpu fwd: causal dynamic tile scheduler (many tiles, back-to-back launches, counter reset)" *
          doctest::test_suite("gpu-fwd")) {
  REQUIRE(ensure_context());
  const auto rows = testable_fwd_rows();
  REQUIRE(!rows.empty());
  ptxfmha::DeviceInfo dev;
  REQUIRE(ptxfmha::acquire_device(&dev) == PTXFMHA_OK);
  bool any_loop = false;
  uint64_t seed = 777;
  for (const ptxfmha::KernelInfo* row : rows) {
    if (row->grid != ptxfmha::KernelInfo::Grid::TileLoop) continue;
    any_loop = true;
    const int d = row->head_dim;
    // {batch, seqlen_q, seqlen_k, heads_q, heads_kv}, tiles with 128-row m-blocks (192-row at
    // d64): 2 x 16 x 8 = 256 (192) tiles in one head group; 4 x 24 x 3 = 288 (192) tiles of
    // which the first m-blocks see no key; 1 x 40 x 8 = 320 (240) tiles whose 40 (head,
    // batch) pairs split into several groups (K and V of 3000 keys
    // against half the L2: on a 50 MiB L2, 34 / 17 / 8 pairs per group at d64 / 128 / 256,
    // so the last group is partial at d64 and d128).
    const int shapes[][5] = {{2, 1000, 1000, 16, 4}, {4, 300, 100, 24, 8}, {1, 1024, 3000, 40, 8}};
    for (const auto& sh : shapes) {
      FwdProblem p = fwd_problem(sh[0], sh[1], sh[2], sh[3], sh[4], d, true);
      const FwdHostInputs in = random_inputs(p, seed++);
      run_and_check(std::string(row->name) + " (tile scheduler)", p, in, reference(p, in), "", Tolerance(),
                    true);
    }
    REQUIRE(cu().cuCtxSynchronize() == CUDA_SUCCESS);
    CUdeviceptr counter = 0;
    REQUIRE(ptxfmha::tile_counter(dev, nullptr, &counter) == PTXFMHA_OK);
    REQUIRE(counter != 0);
    uint32_t pair[2] = {0xdeadbeefu, 0xdeadbeefu};
    REQUIRE(cu().cuMemcpyDtoH(pair, counter, sizeof pair) == CUDA_SUCCESS);
    CHECK_MESSAGE(pair[0] == 0u, row->name << ": tile counter 'next' left at " << pair[0]);
    CHECK_MESSAGE(pair[1] == 0u, row->name << ": tile counter 'done' left at " << pair[1]);
  }
  if (!any_loop) MESSAGE("no TileLoop kernel on this device: only the static schedules ran");
}

// A causal call captured into a CUDA graph: while its stream is capturing, the library uses no
// tile counter (a graph may replay on any stream, so a per-stream counter cannot be baked in)
// and launches one CTA per work tile in the static order. The graph is replayed twice, each
// time on poisoned outputs, and checked against the float64 reference.
TEST_CASE("gpu fwd: causal call captured into a CUDA graph, replayed (static tile schedule)" *
          doctest::test_suite("gpu-fwd")) {
  REQUIRE(ensure_context());
  const auto rows = testable_fwd_rows();
  REQUIRE(!rows.empty());
  CUstream s = nullptr;
  PTXFMHA_CU_CHECK(cu().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  uint64_t seed = 4242;
  for (const ptxfmha::KernelInfo* row : rows) {
    // More work tiles than SMs, rows without keys, GQA 4 (as the sanitizer shapes).
    const FwdProblem p = fwd_problem(1, 1100, 900, 28, 7, row->head_dim, true);
    const FwdHostInputs in = random_inputs(p, seed++);
    const FwdReference ref = reference(p, in);
    FwdDeviceCase dc(p, in);
    dc.poison(s);
    PTXFMHA_CU_CHECK(cu().cuStreamSynchronize(s));
    PTXFMHA_CU_CHECK(cu().cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
    ptxfmha_fwd_params a = dc.params(s);
    const ptxfmha_status st = ptxfmha_fwd(&a);
    const std::string msg = ptxfmha_last_error();
    CUgraph graph = nullptr;
    PTXFMHA_CU_CHECK(cu().cuStreamEndCapture(s, &graph));
    REQUIRE_MESSAGE(st == PTXFMHA_OK, row->name << " under capture: " << msg);
    CUgraphExec exec = nullptr;
    PTXFMHA_CU_CHECK(cu().cuGraphInstantiateWithFlags(&exec, graph, 0));
    for (int rep = 0; rep < 2; ++rep) {
      dc.poison(s);
      PTXFMHA_CU_CHECK(cu().cuGraphLaunch(exec, s));
      PTXFMHA_CU_CHECK(cu().cuStreamSynchronize(s));
      FwdOutputs out;
      dc.download(&out);
      const FwdFigures f = evaluate(p, out, ref);
      std::string why;
      CHECK_MESSAGE(within_bounds(p, f, out, ref, Tolerance(), &why),
                    row->name << " graph replay " << rep << ": " << why);
    }
    PTXFMHA_CU_CHECK(cu().cuGraphExecDestroy(exec));
    PTXFMHA_CU_CHECK(cu().cuGraphDestroy(graph));
  }
  PTXFMHA_CU_CHECK(cu().cuStreamDestroy(s));
}
