// CPU tests of a decode call's parameter block (decode_fill_scalars, host/src/decode_launch.cpp):
// every field but the two tensor maps, from the call and its plan, over the real sm90a rows of the
// kernel table. What they guard:
//   - the cp.async producer's cache pointers (DP_K_PTR, DP_V_PTR, the byte strides: the kernel's
//     CPASYNC_MODE takes cp.async exactly when DP_K_PTR is set on a contiguous cache) are written
//     exactly where the plan runs the producer (DecodePlan::cpasync), so the producer the bench
//     records is the one launched: not for the `tma` override, a paged cache, an e4m3 cache, or a
//     bf16 row without the producer (two heads, warpgroup, features) on a cache that suits it;
//   - the grid facts, pointers and strides the kernels read, and the workspace's partials only
//     where a combine kernel runs.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "decode.h"
#include "decode_abi.h"
#include "decode_plan_util.h"
#include "decode_rows.h"

using namespace decode_plan_test;

namespace {

// Fake device addresses: the block only records them.
constexpr uint64_t kQ = 0x7f0000100000, kK = 0x7f0000200000, kV = 0x7f0000300000, kO = 0x7f0000400000;
constexpr uint64_t kWs = 0x7f0000500000;

// A validated-looking call of b sequences, sq query tokens, hq / hkv heads, head dim d, max_k
// keys: dense Q / O ([batch, seqlen_q, heads_q, head_dim]) and K / V caches, or pages of `page`.
ptxfmha_decode_params call_params(int b, int sq, int hq, int hkv, int d, int max_k, int page = 0) {
  ptxfmha_decode_params p = decode_params(b, sq, hq, hkv, d, max_k);
  set_dense_cache(&p);
  if (page) set_pages(&p, page);
  p.q = reinterpret_cast<const void*>(kQ);
  p.k_cache = reinterpret_cast<const void*>(kK);
  p.v_cache = reinterpret_cast<const void*>(kV);
  p.o = reinterpret_cast<void*>(kO);
  p.q_head_stride = p.o_head_stride = d;
  p.q_seq_stride = p.o_seq_stride = int64_t(hq) * d;
  p.q_batch_stride = p.o_batch_stride = int64_t(sq) * hq * d;
  p.softmax_scale = float(1.0 / std::sqrt(double(d)));
  return p;
}

struct Filled {
  DecodePlan plan;
  ptxfmha::DecodeKernelParams kp;
};

// The plan of `row` (its options, 132 SMs, two CTAs per SM) and the block decode_fill_scalars
// writes for it. tma: the call's `tma` override (DecodePlanOptions::no_cpasync).
Filled fill(const ptxfmha_decode_params& p, const KernelInfo* row, int kv_bytes, bool tma = false) {
  REQUIRE(row != nullptr);
  const KernelInfo* combine = ptxfmha::find_decode_combine(90, p.head_dim, false);
  REQUIRE(combine != nullptr);
  ptxfmha::DecodePlanOptions o = ptxfmha::decode_row_plan_options(row, 132, kv_bytes);
  o.no_cpasync = tma;
  Filled f;
  ptxfmha::plan_decode(p, *row, *combine, 264, &f.plan, o);
  ptxfmha::DecodeCall c = ptxfmha::decode_call_plain(p);
  c.kv_bytes = kv_bytes;
  std::memset(&f.kp, 0, sizeof f.kp);
  ptxfmha::decode_fill_scalars(c, f.plan, kWs, &f.kp);
  return f;
}

void check_no_cpasync_pointers(const ptxfmha::DecodeKernelParams& kp) {
  CHECK(kp.k_ptr == 0);
  CHECK(kp.v_ptr == 0);
  CHECK(kp.kv_batch_stride_bytes == 0);
  CHECK(kp.kv_seq_stride_bytes == 0);
  CHECK(kp.kv_head_stride_bytes == 0);
}

}  // namespace

TEST_CASE("cpu decode params: the cp.async cache pointers exactly where the plan runs the producer") {
  // bf16 d128 32/8 x 1 token, batch 32, 8k keys, contiguous: the plain row has the producer.
  const ptxfmha_decode_params p = call_params(32, 1, 32, 8, 128, 8192);
  const KernelInfo* plain = ptxfmha::find_decode_split(90, 128, 2, false);
  REQUIRE(ptxfmha::decode_row_cpasync(plain));
  {
    const Filled f = fill(p, plain, 2);
    CHECK(f.plan.cpasync);
    CHECK(f.kp.k_ptr == kK);
    CHECK(f.kp.v_ptr == kV);
    // [batch, keys, heads_kv, head_dim] bf16: 8192 x 8 x 128 x 2, 8 x 128 x 2, 128 x 2 bytes
    CHECK(f.kp.kv_batch_stride_bytes == uint64_t(8192) * 8 * 128 * 2);
    CHECK(f.kp.kv_seq_stride_bytes == 8u * 128 * 2);
    CHECK(f.kp.kv_head_stride_bytes == 128u * 2);
    CHECK(f.kp.block_table_ptr == 0);
  }
  // The `tma` override: the same row on the same cache loads through TMA.
  {
    const Filled f = fill(p, plain, 2, true);
    CHECK_FALSE(f.plan.cpasync);
    check_no_cpasync_pointers(f.kp);
  }
  // Pages of 64: TMA (the block table is set; no cache pointers either).
  {
    const Filled f = fill(call_params(32, 1, 32, 8, 128, 8192, 64), plain, 2);
    CHECK_FALSE(f.plan.cpasync);
    check_no_cpasync_pointers(f.kp);
    CHECK(f.kp.block_table_ptr != 0);
    CHECK(f.kp.page_shift == 6);
  }
  // e4m3 on a contiguous cache: no cp.async producer for one-byte elements.
  {
    const KernelInfo* e4m3 = ptxfmha::find_decode_split(90, 128, 1, false);
    const Filled f = fill(p, e4m3, 1);
    CHECK_FALSE(f.plan.cpasync);
    check_no_cpasync_pointers(f.kp);
  }
  // bf16 rows without the producer on a cache that suits it (decode_cpasync_cache holds): the
  // two-heads d64 row, the warpgroup d128 row (64 packed rows: 128/8 x 4 tokens), the feature row.
  const ptxfmha_decode_params d64 = call_params(64, 1, 32, 8, 64, 8192);
  REQUIRE(ptxfmha::decode_cpasync_cache(d64, 2));
  const KernelInfo* two = ptxfmha::find_decode_two_heads(90, ptxfmha::find_decode_split(90, 64, 2, false), 8, 4);
  REQUIRE(two != nullptr);
  REQUIRE_FALSE(ptxfmha::decode_row_cpasync(two));
  {
    const Filled f = fill(d64, two, 2);
    CHECK_FALSE(f.plan.cpasync);
    check_no_cpasync_pointers(f.kp);
  }
  const ptxfmha_decode_params rows64 = call_params(8, 4, 128, 8, 128, 8192);
  const KernelInfo* wg = ptxfmha::find_decode_split(90, 128, 2, false, 8, 64);
  REQUIRE(ptxfmha::decode_row_wg(wg));
  {
    const Filled f = fill(rows64, wg, 2);
    CHECK_FALSE(f.plan.cpasync);
    check_no_cpasync_pointers(f.kp);
  }
  const KernelInfo* attn = ptxfmha::find_decode_split(90, 128, 2, true);
  REQUIRE_FALSE(ptxfmha::decode_row_cpasync(attn));
  {
    const Filled f = fill(p, attn, 2);
    CHECK_FALSE(f.plan.cpasync);
    check_no_cpasync_pointers(f.kp);
  }
}

TEST_CASE("cpu decode params: grid facts, pointers, strides and the workspace's partials") {
  // bf16 d128 32/8 x 2 tokens, batch 1, 32k keys: 8 packed rows, split (the plan's count).
  const ptxfmha_decode_params p = call_params(1, 2, 32, 8, 128, 32768);
  const Filled f = fill(p, ptxfmha::find_decode_split(90, 128, 2, false), 2);
  const ptxfmha::DecodeKernelParams& kp = f.kp;
  REQUIRE(f.plan.num_splits > 1);
  CHECK(kp.q_ptr == kQ);
  CHECK(kp.o_ptr == kO);
  CHECK(kp.lse_ptr == 0);
  CHECK(kp.q_seq_stride == 32 * 128);
  CHECK(kp.o_batch_stride == 2 * 32 * 128);
  CHECK(kp.batch == 1);
  CHECK(kp.seqlen_q == 2);
  CHECK(kp.max_seqlen_k == 32768);
  CHECK(kp.gqa_ratio == 4);
  CHECK(kp.packed_rows == 8);
  CHECK(kp.combine_rows == 1 * 32 * 2);
  CHECK(kp.num_splits == f.plan.num_splits);
  CHECK(kp.split_keys == f.plan.split_keys);
  CHECK(kp.m_groups == 1);
  CHECK(kp.box_shift == f.plan.box_shift);
  CHECK(kp.page_shift == 0);
  CHECK(kp.max_blocks_per_seq == 0);
  CHECK(kp.scale_log2 == doctest::Approx(1.0 / std::sqrt(128.0) * 1.4426950408889634));
  CHECK(kp.window_left == -1);
  CHECK(kp.softcap_pre == 0.0f);
  CHECK(kp.k_scale_ptr == 0);
  // the partials in the workspace where a combine kernel runs
  REQUIRE(f.plan.combine_grid > 0);
  CHECK(kp.ws_lse_ptr == kWs + f.plan.ws_lse_offset);
  CHECK(kp.ws_o_ptr == kWs + f.plan.ws_o_offset);
  CHECK(kp.ho_counters_ptr == 0);
  // one split (batch 64 covers the SMs unsplit): no combine, no partials
  const Filled one = fill(call_params(64, 1, 32, 8, 128, 8192), ptxfmha::find_decode_split(90, 128, 2, false), 2);
  REQUIRE(one.plan.num_splits == 1);
  CHECK(one.plan.combine_grid == 0);
  CHECK(one.kp.ws_lse_ptr == 0);
  CHECK(one.kp.ws_o_ptr == 0);
}
