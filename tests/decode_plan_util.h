// Shared by the CPU tests of decode's launch plan (test_cpu_decode_plan.cpp: the plans, the
// split models, the row choices; test_cpu_decode_plan_rates.cpp: the per-CTA rates and the cap):
// synthetic split / combine rows (fixed block sizes, so that a change of the real kernel table
// does not move the expected numbers), a call's parameters, pages, an environment variable for
// one case, and the plans of bf16 / e4m3 calls on 132 SMs.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "decode.h"
#include "decode_rows.h"
#include "gpu_util.h"
#include "kernel_table.h"
#include "ptxfmha/ptxfmha.h"

namespace decode_plan_test {

using ptxfmha_test::log_uniform;
using ptxfmha::DecodePlan;
using ptxfmha::KernelInfo;
using ptxfmha::KernelKind;

inline const KernelInfo kSplit128 = {"test_decode_split_d128", "sm90a", 90, KernelKind::Decode, 128, 64, 64,
                                     128, 80000, 384, KernelInfo::Grid::GridMHB};
inline const KernelInfo kCombine1 = {"test_decode_combine_d128", "sm90a", 90, KernelKind::DecodeCombine, 128,
                                     1, 64, 32, 0, 384, KernelInfo::Grid::GridMHB};
inline const KernelInfo kCombine4 = {"test_decode_combine4_d128", "sm90a", 90, KernelKind::DecodeCombine, 128,
                                     4, 64, 128, 0, 384, KernelInfo::Grid::GridMHB};
inline const int32_t kFakeTable[1] = {0};  // plans never read the table, only whether it exists

// An environment variable for one test case: set / unset while it runs, restored as it was
// (set or not) when the case ends, failing checks included.
class ScopedEnv {
 public:
  explicit ScopedEnv(const char* name) : name_(name) {
    const char* v = std::getenv(name);
    had_ = v != nullptr;
    if (had_) old_ = v;
  }
  ~ScopedEnv() {
    if (had_) setenv(name_, old_.c_str(), 1);
    else unsetenv(name_);
  }
  void set(const char* value) { setenv(name_, value, 1); }
  void unset() { unsetenv(name_); }

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

inline ptxfmha_decode_params decode_params(int b, int sq, int hq, int hkv, int d, int max_k) {
  ptxfmha_decode_params p;
  std::memset(&p, 0, sizeof p);
  p.batch = b; p.seqlen_q = sq; p.heads_q = hq; p.heads_kv = hkv; p.head_dim = d; p.max_seqlen_k = max_k;
  return p;
}

// Makes p a paged call: pages of `page` keys, a pool of exactly the batch's pages.
inline void set_pages(ptxfmha_decode_params* p, int page) {
  p->block_table = kFakeTable;
  p->page_size = page;
  p->max_blocks_per_seq = p->max_seqlen_k / page;
  p->num_pages = p->batch * p->max_blocks_per_seq;
}

// Gives p the strides of a dense [batch, max_seqlen_k, heads_kv, head_dim] K and V cache (in
// elements): what the cp.async producer takes (decode_cpasync_cache).
inline void set_dense_cache(ptxfmha_decode_params* p) {
  p->k_head_stride = p->v_head_stride = p->head_dim;
  p->k_seq_stride = p->v_seq_stride = int64_t(p->heads_kv) * p->head_dim;
  p->k_batch_stride = p->v_batch_stride = int64_t(p->max_seqlen_k) * p->heads_kv * p->head_dim;
}

inline DecodePlan plan_decode(const ptxfmha_decode_params& p, int64_t slots, const KernelInfo& combine = kCombine1) {
  DecodePlan plan;
  ptxfmha::plan_decode(p, kSplit128, combine, slots, &plan);
  return plan;
}

// The split count the library plans for an e4m3 call on 132 SMs (its options: kv_bytes 1, wg: an
// _e4m3_wg row), `slots` resident split CTAs.
inline int e4m3_plan_splits(const ptxfmha_decode_params& p, int64_t slots, bool wg = false) {
  ptxfmha::DecodePlanOptions o;
  o.sms = 132;
  o.kv_bytes = 1;
  o.wg_loop = wg;
  DecodePlan plan;
  ptxfmha::plan_decode(p, kSplit128, kCombine1, slots, &plan, o);
  return plan.num_splits;
}

}  // namespace decode_plan_test
