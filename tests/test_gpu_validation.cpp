// GPU test (suite "gpu-fwd"): a call that fails validation on a machine with a device writes
// nothing. Real device tensors, O and LSE poisoned; each call breaks one argument and must
// return that argument's status with a message naming it; afterwards O and LSE still hold
// the poison bit for bit and Q is unchanged. The unbroken call then succeeds, so each failure
// comes from the one broken argument.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>

#include "gpu_util.h"

using namespace ptxfmha_test;

TEST_CASE("gpu fwd: a call that fails validation leaves O and LSE untouched" * doctest::test_suite("gpu-fwd")) {
  REQUIRE(ensure_context());
  const auto rows = testable_fwd_rows();
  REQUIRE(!rows.empty());
  // The widest head dim, so a narrower unsupported head_dim still fits the rows' strides.
  const ptxfmha::KernelInfo* row = rows.front();
  for (const ptxfmha::KernelInfo* r : rows)
    if (r->head_dim > row->head_dim) row = r;
  const int d = row->head_dim;
  const auto supported = ptxfmha::supported_head_dims(gpu().info.sm, ptxfmha::KernelKind::Fwd);
  int bad_head_dim = 0;
  for (int cand : {32, 96, 48, 80, 16, 8})
    if (cand < d && std::find(supported.begin(), supported.end(), cand) == supported.end()) {
      bad_head_dim = cand;
      break;
    }

  FwdProblem p = fwd_problem(2, 130, 190, 4, 2, d, true);
  const FwdHostInputs in = random_inputs(p, 4242);
  FwdDeviceCase dc(p, in);

  // A 16-byte aligned host buffer as large as K: not device memory.
  const std::size_t k_bytes = static_cast<std::size_t>(p.k.elems) * 2;
  void* host_k = std::aligned_alloc(64, (k_bytes + 63) / 64 * 64);
  REQUIRE(host_k != nullptr);

  struct Bad {
    std::string what;
    ptxfmha_status expect;
    std::string names;  // substring the message must contain
    std::function<void(ptxfmha_fwd_params&)> breakit;
  };
  const char* o_base = static_cast<const char*>(dc.o_buffer().get());
  std::vector<Bad> bads = {
      {"q NULL", PTXFMHA_ERR_NULL_POINTER, "q", [](ptxfmha_fwd_params& a) { a.q = nullptr; }},
      {"o NULL", PTXFMHA_ERR_NULL_POINTER, "o", [](ptxfmha_fwd_params& a) { a.o = nullptr; }},
      {"batch 0", PTXFMHA_ERR_INVALID_SIZE, "batch", [](ptxfmha_fwd_params& a) { a.batch = 0; }},
      {"seqlen_k -1", PTXFMHA_ERR_INVALID_SIZE, "seqlen_k", [](ptxfmha_fwd_params& a) { a.seqlen_k = -1; }},
      {"heads_q 3 / heads_kv 2", PTXFMHA_ERR_GQA_RATIO, "heads_q", [](ptxfmha_fwd_params& a) { a.heads_q = 3; }},
      {"q misaligned by 2 bytes", PTXFMHA_ERR_MISALIGNED_POINTER, "q",
       [](ptxfmha_fwd_params& a) { a.q = static_cast<const char*>(a.q) + 2; }},
      {"o misaligned by 8 bytes", PTXFMHA_ERR_MISALIGNED_POINTER, "o",
       [o_base](ptxfmha_fwd_params& a) { a.o = const_cast<char*>(o_base) + 8; }},
      {"softmax_scale NaN", PTXFMHA_ERR_INVALID_SCALE, "softmax_scale",
       [](ptxfmha_fwd_params& a) { a.softmax_scale = std::nanf(""); }},
      {"softmax_scale 0", PTXFMHA_ERR_INVALID_SCALE, "softmax_scale", [](ptxfmha_fwd_params& a) { a.softmax_scale = 0; }},
      {"causal 2", PTXFMHA_ERR_INVALID_ARGUMENT, "causal", [](ptxfmha_fwd_params& a) { a.causal = 2; }},
      {"q_seq_stride not a multiple of 8", PTXFMHA_ERR_INVALID_STRIDE, "q_seq_stride",
       [](ptxfmha_fwd_params& a) { a.q_seq_stride += 1; }},
      {"k rows overlap (k_seq_stride 0)", PTXFMHA_ERR_INVALID_STRIDE, "k_",
       [](ptxfmha_fwd_params& a) { a.k_seq_stride = 0; }},
      {"o aliases q", PTXFMHA_ERR_ALIASING, "o", [](ptxfmha_fwd_params& a) { a.o = const_cast<void*>(a.q); }},
      {"lse inside o", PTXFMHA_ERR_ALIASING, "lse",
       [o_base](ptxfmha_fwd_params& a) { a.lse = reinterpret_cast<float*>(const_cast<char*>(o_base)); }},
      {"k is host memory", PTXFMHA_ERR_INVALID_ARGUMENT, "k", [host_k](ptxfmha_fwd_params& a) { a.k = host_k; }},
  };
  if (bad_head_dim != 0) {
    bads.push_back({"unsupported head_dim", PTXFMHA_ERR_UNSUPPORTED_HEAD_DIM, "head_dim",
                    [bad_head_dim](ptxfmha_fwd_params& a) { a.head_dim = bad_head_dim; }});
  }

  for (const Bad& b : bads) {
    CAPTURE(b.what);
    dc.poison();
    PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
    ptxfmha_fwd_params a = dc.params();
    b.breakit(a);
    const ptxfmha_status st = ptxfmha_fwd(&a);
    const std::string msg = ptxfmha_last_error();
    CHECK_MESSAGE(st == b.expect, b.what << ": got " << str(ptxfmha_status_string(st)) << " (" << msg << "), expected "
                                         << str(ptxfmha_status_string(b.expect)));
    CHECK_MESSAGE(msg.find(b.names) != std::string::npos, b.what << ": message '" << msg << "' does not name "
                                                                 << b.names);
    PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
    FwdOutputs out;
    dc.download(&out);
    long long o_changed = 0, lse_changed = 0;
    for (uint16_t x : out.o) o_changed += (x != kPoisonBf16);
    for (float x : out.lse) {
      uint32_t bits;
      std::memcpy(&bits, &x, 4);
      lse_changed += (bits != kPoisonF32);
    }
    CHECK_MESSAGE(o_changed == 0, b.what << ": " << o_changed << " O elements written by a failed call");
    CHECK_MESSAGE(lse_changed == 0, b.what << ": " << lse_changed << " LSE elements written by a failed call");
    std::vector<uint16_t> q_now;
    dc.q_buffer().download(q_now, in.q.size());
    CHECK_MESSAGE(q_now == in.q, b.what << ": Q changed");
  }
  std::free(host_k);
  MESSAGE("validation on the GPU path: " << bads.size() << " broken calls"
                                         << std::string(bad_head_dim ? "" : " (no unsupported head_dim below the widest one)"));

  // The same call unbroken succeeds and is correct.
  run_and_check(std::string(row->name) + " (validation baseline)", p, in, reference(p, in));
}
