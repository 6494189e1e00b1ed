// Test helpers of the extensible attention API (ptxfmha_attn, ptxfmha_decode_attn), in three
// files along their roles:
//   attn_case.h   problem descriptions with every feature, host data in every layout (fixed /
//                 packed / paged K/V, BSHD / BHSD), the float64 reference (ptxfmha::reference_attn)
//   attn_eval.h   the evaluation of a device result against it
//   attn_util.h   (this file, including both) the expectations and skip registry of the
//                 missing-kernel switch, parameter blocks, the GPU suites' case lists, the
//                 device runners
//
// Host parts (AttnCase, make_attn_host, attn_reference, evaluate_attn, ...) need no device:
// tests/test_cpu_attn_util.cpp runs them on the CPU, so the evaluator is itself tested.
//
// ---- Missing-kernel switch (cannot silently stay on) --------------------------------------
// Where no kernel implements a feature (sm_100a until the two-tile kernels of issue 13; decode
// until decode17's kernels), a valid call with it returns PTXFMHA_ERR_UNSUPPORTED_FEATURE.
// A GPU case reports "skipped: no kernel for <features>"
// (counted per reason, printed per test case and at exit) only when
//   - the status is exactly UNSUPPORTED_FEATURE, and
//   - none of the case's features is in expected_attn_features(sm) (decode: the decode
//     table) -- what this file says the kernel table implements, and
//   - PTXFMHA_ATTN_REQUIRE_KERNELS is not set to 1.
// Any other status fails. test_cpu_attn_util.cpp checks on the CPU that these expectations
// equal ptxfmha::attn_supported_features() for every arch: when phase 2 adds feature rows the
// CPU test fails until the expectations here are raised, and from then on an
// UNSUPPORTED_FEATURE for those features is a failure, not a skip.
#pragma once
#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "attn.h"
#include "gpu_util.h"
#include "ptxfmha/ptxfmha.h"
#include "ptxfmha/reference.h"
#include "attn_case.h"
#include "attn_eval.h"

namespace ptxfmha_test {

// ---- expectations ---------------------------------------------------------------------------
// Feature bits (host/src/attn_kernel_abi.h) the kernel table implements per architecture.
// sm_90a: every feature (fmha_fwd_d*_{ext,paged}_sm90a); sm_100a: every feature too, in the
// two-tile kernels' EXT rows (fmha_fwd_d*_ext_sm100a; seqused_k and paged K/V since issue 14's
// V tail fix). Raise together with the kernels (see the header comment).
inline uint32_t expected_attn_features(int sm) {
  if (sm == 90 || sm == 100) return ptxfmha::kAttnAllFeatures;
  return 0u;
}
// Decode (issue 14, phase 2): the _attn split and _sink combine kernels of sm90a and sm100a.
inline uint32_t expected_decode_attn_features(int sm) {
  // sm_90a and sm_100a (cc 10.0 only: other 10.x get UNSUPPORTED_ARCH, context.h arch_for_cc)
  return sm == 90 || sm == 100 ? ptxfmha::kDecodeAttnFeatures : 0u;
}

// ---- skip registry --------------------------------------------------------------------------
struct AttnSkips {
  std::mutex mutex;
  std::map<std::string, long long> by_reason;
  long long total = 0;
  ~AttnSkips() {  // at exit, after doctest's report
    if (total == 0) return;
    std::printf("[ptxfmha-tests] attn: %lld GPU cases SKIPPED for missing feature kernels "
                "(PTXFMHA_ERR_UNSUPPORTED_FEATURE; PTXFMHA_ATTN_REQUIRE_KERNELS=1 makes them failures):\n",
                total);
    for (const auto& kv : by_reason)
      std::printf("[ptxfmha-tests]   %6lld  %s\n", kv.second, kv.first.c_str());
    std::fflush(stdout);
  }
};
inline AttnSkips& attn_skips() {
  static AttnSkips s;
  return s;
}
inline long long attn_skip_count() {
  AttnSkips& s = attn_skips();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.total;
}

enum class MissingKernel { No, Skipped, Failed };

// What a status means for a GPU case: No (not UNSUPPORTED_FEATURE: the caller checks it),
// Skipped (recorded and counted), or Failed (UNSUPPORTED_FEATURE where a skip is not
// allowed; FAIL_CHECK names why).
inline MissingKernel skip_for_missing_kernel(ptxfmha_status st, uint32_t features, bool decode, int sm,
                                             const std::string& what) {
  if (st != PTXFMHA_ERR_UNSUPPORTED_FEATURE) return MissingKernel::No;
  const std::string msg = ptxfmha_last_error();
  const uint32_t expected = decode ? expected_decode_attn_features(sm) : expected_attn_features(sm);
  if (features == 0) {
    FAIL_CHECK(what << ": UNSUPPORTED_FEATURE for a call without features: " << msg);
    return MissingKernel::Failed;
  }
  // A skip needs a feature the table is not expected to implement (a case mixing implemented
  // and missing features is skipped for the missing one; none is missing on sm_90a and sm_100a).
  if ((features & ~expected) == 0) {
    FAIL_CHECK(what << ": UNSUPPORTED_FEATURE for " << ptxfmha::attn_feature_names(features)
                    << ", which the kernel table is expected to implement on sm_" << sm << ": " << msg);
    return MissingKernel::Failed;
  }
  if (env_or("PTXFMHA_ATTN_REQUIRE_KERNELS", "0") == "1") {
    FAIL_CHECK(what << ": PTXFMHA_ATTN_REQUIRE_KERNELS=1 and the library has no kernel: " << msg);
    return MissingKernel::Failed;
  }
  AttnSkips& s = attn_skips();
  std::lock_guard<std::mutex> lock(s.mutex);
  ++s.total;
  ++s.by_reason[std::string(decode ? "decode: " : "prefill: ") + ptxfmha::attn_feature_names(features & ~expected) +
                " on sm_" + std::to_string(sm)];
  return MissingKernel::Skipped;
}

// ---- parameter blocks -----------------------------------------------------------------------
// Where a case's buffers live (device pointers, or fake ones for host-only validation).
struct AttnPointers {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* o = nullptr;
  float* lse = nullptr;
  const int32_t* cu_q = nullptr;
  const int32_t* cu_k = nullptr;
  const int32_t* seqused = nullptr;
  const int32_t* table = nullptr;
  const float* sinks = nullptr;
  const float* slopes = nullptr;
};

// The ptxfmha_attn_params of a case (arrays the case does not use stay NULL).
inline ptxfmha_attn_params make_attn_params(const AttnCase& c, const AttnHost& h, const AttnPointers& ptr,
                                            CUstream stream = nullptr) {
  ptxfmha_attn_params a;
  ptxfmha_attn_params_init(&a);
  a.q = ptr.q; a.k = ptr.k; a.v = ptr.v; a.o = ptr.o;
  a.lse = c.with_lse ? ptr.lse : nullptr;
  a.q_batch_stride = h.q.stride[0]; a.q_seq_stride = h.q.stride[1]; a.q_head_stride = h.q.stride[2];
  a.k_batch_stride = h.k.stride[0]; a.k_seq_stride = h.k.stride[1]; a.k_head_stride = h.k.stride[2];
  a.v_batch_stride = h.v.stride[0]; a.v_seq_stride = h.v.stride[1]; a.v_head_stride = h.v.stride[2];
  a.o_batch_stride = h.o.stride[0]; a.o_seq_stride = h.o.stride[1]; a.o_head_stride = h.o.stride[2];
  a.batch = c.batch(); a.heads_q = c.heads_q; a.heads_kv = c.heads_kv; a.head_dim = c.head_dim;
  a.seqlen_q = h.seqlen_q; a.seqlen_k = h.seqlen_k;
  a.softmax_scale = c.softmax_scale();
  a.causal = c.causal ? 1 : 0;
  a.stream = stream;
  if (c.varlen_q) {
    a.cu_seqlens_q = ptr.cu_q;
    a.max_seqlen_q = h.max_q; a.total_q = h.total_q;
  }
  if (c.varlen_k) {
    a.cu_seqlens_k = ptr.cu_k;
    a.max_seqlen_k = h.max_k; a.total_k = h.total_k;
  }
  if (!h.seqused.empty()) a.seqused_k = ptr.seqused;
  if (c.page_size > 0) {
    a.block_table = ptr.table;
    a.page_size = c.page_size; a.max_blocks_per_seq = h.mbps; a.num_pages = h.num_pages;
  }
  a.window_left = c.window_left; a.window_right = c.window_right;
  a.softcap = c.softcap;
  if (!c.sinks.empty()) a.sink_logits = ptr.sinks;
  if (!c.slopes.empty()) a.alibi_slopes = ptr.slopes;
  return a;
}

// Decode (ptxfmha_decode_attn) on the same buffers: the case must have fixed Q (seqlen_q <= 8)
// and fixed or paged K; seqused_k becomes seqlens_k, seqlen_k max_seqlen_k. No workspace.
inline ptxfmha_decode_attn_params make_decode_attn_params(const ptxfmha_attn_params& a, int num_splits) {
  ptxfmha_decode_attn_params d;
  ptxfmha_decode_attn_params_init(&d);
  d.q = a.q; d.k_cache = a.k; d.v_cache = a.v; d.o = a.o; d.lse = a.lse;
  d.seqlens_k = a.seqused_k; d.block_table = a.block_table;
  d.q_batch_stride = a.q_batch_stride; d.q_seq_stride = a.q_seq_stride; d.q_head_stride = a.q_head_stride;
  d.k_batch_stride = a.k_batch_stride; d.k_seq_stride = a.k_seq_stride; d.k_head_stride = a.k_head_stride;
  d.v_batch_stride = a.v_batch_stride; d.v_seq_stride = a.v_seq_stride; d.v_head_stride = a.v_head_stride;
  d.o_batch_stride = a.o_batch_stride; d.o_seq_stride = a.o_seq_stride; d.o_head_stride = a.o_head_stride;
  d.batch = a.batch; d.seqlen_q = a.seqlen_q; d.max_seqlen_k = a.seqlen_k;
  d.heads_q = a.heads_q; d.heads_kv = a.heads_kv; d.head_dim = a.head_dim;
  d.page_size = a.page_size; d.max_blocks_per_seq = a.max_blocks_per_seq; d.num_pages = a.num_pages;
  d.softmax_scale = a.softmax_scale; d.causal = a.causal; d.num_splits = num_splits;
  d.stream = a.stream;
  d.sink_logits = a.sink_logits; d.alibi_slopes = a.alibi_slopes;
  d.window_left = a.window_left; d.window_right = a.window_right; d.softcap = a.softcap;
  return d;
}

// ---- the GPU suites' case lists (defined in their files; test_cpu_attn_util.cpp checks on the
// CPU that every one of them passes the host validation and carries the features it names) --
struct NamedCase {
  std::string group;  // worst-figures key suffix
  AttnCase c;
  uint64_t seed = 0;
  int num_splits = 0;  // decode
};
std::vector<NamedCase> attn_cases_alone(int d);         // test_gpu_attn_features.cpp
std::vector<NamedCase> attn_cases_combinations(int d);  // test_gpu_attn_features.cpp
std::vector<NamedCase> attn_cases_sanitizer(int d);     // test_gpu_attn_features.cpp
std::vector<NamedCase> decode_attn_cases_features(int d);   // test_gpu_attn_decode.cpp
std::vector<NamedCase> decode_attn_cases_grid(int d);       // test_gpu_attn_decode.cpp
std::vector<NamedCase> decode_attn_cases_sanitizer(int d);  // test_gpu_attn_decode.cpp
AttnCase draw_attn_case(std::mt19937_64& rng, int d);       // test_gpu_attn_random.cpp

// ---- device -----------------------------------------------------------------------------------
// Device buffers of one case: inputs and metadata uploaded once, outputs poisoned before every
// launch.
class AttnDevice {
 public:
  AttnDevice(const AttnCase& c, const AttnHost& h) : c_(c), h_(h) {
    q_.alloc(std::size_t(std::max<int64_t>(h.q.elems, 1)) * 2); q_.upload(h.hq);
    k_.alloc(std::size_t(std::max<int64_t>(h.k.elems, 1)) * 2); k_.upload(h.hk);
    v_.alloc(std::size_t(std::max<int64_t>(h.v.elems, 1)) * 2); v_.upload(h.hv);
    o_.alloc(std::size_t(std::max<int64_t>(h.o.elems, 1)) * 2);
    lse_.alloc(std::size_t(std::max<int64_t>(lse_elems(), 1)) * 4);
    upload(cu_q_, h.cu_q);
    upload(cu_k_, h.cu_k);
    upload(seqused_, h.seqused);
    upload(table_, h.table);
    upload(sinks_, c.sinks);
    upload(slopes_, c.slopes);
  }
  int64_t lse_elems() const { return h_.q_rows * c_.heads_q; }

  ptxfmha_attn_params params(CUstream stream = nullptr) const {
    AttnPointers p;
    p.q = q_.get(); p.k = k_.get(); p.v = v_.get(); p.o = o_.get();
    p.lse = static_cast<float*>(lse_.get());
    p.cu_q = static_cast<const int32_t*>(cu_q_.get());
    p.cu_k = static_cast<const int32_t*>(cu_k_.get());
    p.seqused = static_cast<const int32_t*>(seqused_.get());
    p.table = static_cast<const int32_t*>(table_.get());
    p.sinks = static_cast<const float*>(sinks_.get());
    p.slopes = static_cast<const float*>(slopes_.get());
    return make_attn_params(c_, h_, p, stream);
  }
  void poison(CUstream s = nullptr) {
    o_.fill16(kPoisonBf16, std::size_t(std::max<int64_t>(h_.o.elems, 1)), s);
    lse_.fill32(kPoisonF32, std::size_t(std::max<int64_t>(lse_elems(), 1)), s);
  }
  ptxfmha_status launch(CUstream s = nullptr) {
    poison(s);
    const ptxfmha_attn_params a = params(s);
    return ptxfmha_attn(&a);
  }
  void download(AttnOutputs* out) const {
    o_.download(out->o, std::size_t(std::max<int64_t>(h_.o.elems, 0)));
    if (c_.with_lse) lse_.download(out->lse, std::size_t(lse_elems()));
    else out->lse.clear();
  }
  ptxfmha_decode_attn_params decode_params(int num_splits, CUstream stream = nullptr) const {
    return make_decode_attn_params(params(stream), num_splits);
  }
  // Poison, workspace (ptxfmha_decode_attn_workspace_size), launch. Returns the first
  // non-OK status of the two calls.
  ptxfmha_status launch_decode(int num_splits, CUstream s = nullptr) {
    poison(s);
    ptxfmha_decode_attn_params d = decode_params(num_splits, s);
    uint64_t bytes = 0;
    ptxfmha_status st = ptxfmha_decode_attn_workspace_size(&d, &bytes);
    if (st != PTXFMHA_OK) return st;
    if (bytes > ws_.bytes()) ws_.alloc(std::size_t(bytes));
    d.workspace = bytes ? ws_.get() : nullptr;
    d.workspace_bytes = bytes;
    return ptxfmha_decode_attn(&d);
  }
  DeviceBuffer& cu_q() { return cu_q_; }
  DeviceBuffer& table() { return table_; }

 private:
  template <class T> static void upload(DeviceBuffer& b, const std::vector<T>& v) {
    if (v.empty()) return;
    b.alloc(v.size() * sizeof(T));
    b.upload(v);
  }
  const AttnCase& c_;
  const AttnHost& h_;
  DeviceBuffer q_, k_, v_, o_, lse_, cu_q_, cu_k_, seqused_, table_, sinks_, slopes_, ws_;
};

enum class CaseResult { Passed, Failed, Skipped };

// The common end of a case whose first launch returned `st` (not a missing-kernel answer):
// the first result, a second launch (`relaunch`), the reference, the bounds, determinism.
template <class Relaunch>
CaseResult finish_case(const std::string& key, const std::string& what, const AttnCase& c, const AttnHost& h,
                       AttnDevice& dev, ptxfmha_status st, Relaunch relaunch, const Tolerance& tol, bool quiet) {
  CHECK_MESSAGE(st == PTXFMHA_OK, what << ": " << str(ptxfmha_status_string(st)) << ": " << str(ptxfmha_last_error()));
  if (st != PTXFMHA_OK) return CaseResult::Failed;
  PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
  AttnOutputs first, second;
  dev.download(&first);
  st = relaunch();
  REQUIRE_MESSAGE(st == PTXFMHA_OK, what << ": second launch: " << str(ptxfmha_last_error()));
  PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
  dev.download(&second);
  const ptxfmha::RefAttnResult ref = attn_reference(h);
  const AttnFigures f = evaluate_attn(c, h, ref, first, tol);
  record_attn(key, describe(c), f);
  std::string why;
  const bool ok = attn_within_bounds(c, h, f, first, ref, tol, &why);
  const bool det = first == second;
  if (!quiet || !ok || !det) MESSAGE(what << ": " << describe(f) << (det ? "" : " NOT bitwise deterministic"));
  CHECK_MESSAGE(ok, what << ": " << why);
  CHECK_MESSAGE(det, what << ": two launches on the same inputs differ bitwise");
  return ok && det ? CaseResult::Passed : CaseResult::Failed;
}

// One case end to end: host data, reference, two launches (poisoned outputs each time),
// bitwise determinism, bounds. `key` groups the worst figures; `context` (seed, index) is
// printed with every failure. Skips only through skip_for_missing_kernel.
inline CaseResult run_attn_case(const std::string& key, const AttnCase& c, uint64_t seed,
                                const std::string& context = "", const Tolerance& tol = Tolerance(),
                                bool quiet = false) {
  AttnHost h = make_attn_host(c, seed);
  sample_reference_rows(c, &h, seed);
  {  // rows two sequences write (overlapping garbage offsets) could differ between launches
    const std::vector<uint8_t> w = ptxfmha::attn_row_writers(h.ref);
    REQUIRE_MESSAGE(std::all_of(w.begin(), w.end(), [](uint8_t x) { return x <= 1; }),
                    "a GPU case must not give two sequences the same query rows");
  }
  AttnDevice dev(c, h);
  const std::string what = key + " " + context + " " + describe(c);
  ptxfmha_status st = dev.launch();
  const MissingKernel mk = skip_for_missing_kernel(st, attn_case_features(c), false, gpu().info.sm, what);
  if (mk != MissingKernel::No) return mk == MissingKernel::Skipped ? CaseResult::Skipped : CaseResult::Failed;
  return finish_case(key, what, c, h, dev, st, [&dev] { return dev.launch(); }, tol, quiet);
}

// Decode counterpart of run_attn_case (ptxfmha_decode_attn with `num_splits`, 0 = library's
// choice): the same host data, reference and checks.
inline CaseResult run_decode_attn_case(const std::string& key, const AttnCase& c, uint64_t seed, int num_splits,
                                       const std::string& context = "", const Tolerance& tol = Tolerance()) {
  REQUIRE((!c.varlen_q && !c.varlen_k && c.batch() > 0 && c.lq[0] >= 1 && c.lq[0] <= 8));
  const AttnHost h = make_attn_host(c, seed);
  AttnDevice dev(c, h);
  const std::string what = key + " " + context + " " + describe(c) + " splits=" + std::to_string(num_splits);
  ptxfmha_status st = dev.launch_decode(num_splits);
  const MissingKernel mk = skip_for_missing_kernel(st, attn_case_features(c) & ptxfmha::kDecodeAttnFeatures, true,
                                                   gpu().info.sm, what);
  if (mk != MissingKernel::No) return mk == MissingKernel::Skipped ? CaseResult::Skipped : CaseResult::Failed;
  return finish_case(key, what, c, h, dev, st, [&dev, num_splits] { return dev.launch_decode(num_splits); }, tol,
                     /*quiet=*/false);
}

// Per-test-case tally, printed as one MESSAGE line.
struct CaseTally {
  int passed = 0, failed = 0, skipped = 0;
  void add(CaseResult r) { (r == CaseResult::Passed ? passed : r == CaseResult::Failed ? failed : skipped)++; }
  std::string str() const {
    return std::to_string(passed + failed + skipped) + " cases: " + std::to_string(passed) + " passed, " +
           std::to_string(failed) + " failed, " + std::to_string(skipped) +
           " SKIPPED (no feature kernel yet: UNSUPPORTED_FEATURE)";
  }
};

}  // namespace ptxfmha_test
