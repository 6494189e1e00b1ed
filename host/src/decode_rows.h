// The decode kernels' facts and the host's choice of row (decode.cpp, bench, tests).
//
// Every decode row of the kernel table (kernels_decode_<arch>.cpp) has a DecodeRowFacts in the
// same order, from the same manifest row (ptx/manifest/sm90_decode.h): the split kernels' cache
// element size, feature switch, L2 hint and stages, the combine kernels' sink switch. A call
// picks:
//   split kernel    the first row of the device's arch folder with its head dim, its cache
//                   type (kv_bytes 2 = bf16, 1 = e4m3) and features == (the call has window,
//                   softcap, ALiBi or sinks) that fits the call: a row of HPC > 1 KV heads
//                   per CTA fits when heads_kv % HPC == 0 and seqlen_q * gqa <= 16. The bf16
//                   lists keep the measured plain rows first; e4m3 at head dim 64 lists its
//                   two-heads row (_e4m3_h2) before the one-head row; a call whose CTAs hold
//                   more than kDecodeWgMinRows - 1 packed rows (min(seqlen_q * gqa, 64) >= 33:
//                   3 or 4 m-tiles; e4m3 at head dim 256 from 17: decode_wg_min_rows) runs the
//                   warpgroup row of its head dim (_wg) where one exists (e4m3 at head dim
//                   256: the two-warpgroup row _e4m3_wg2c, listed before _e4m3_wgc and
//                   _e4m3_wg); other rows (_ef, _s6, bf16 _h2, d256 _e4m3_wgc and _e4m3_wg)
//                   run only when named;
//   combine kernel  the plain one, or the _sink one when the call has sinks.
//   cluster twin    the _cl row of the same facts (find_decode_cluster), run instead of the
//                   split + combine pair when the plan's cluster policy says so.
// Invariants: pure lookups over static tables, thread-safe, no driver call.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernel_table.h"

namespace ptxfmha {

struct DecodeRowFacts {
  const char* name;
  bool combine;      // a combine kernel (sink) or a split kernel (the rest)
  int head_dim;
  int stages;        // split: K/V ring stages
  int kv_bytes;      // split: 2 = bf16 cache, 1 = e4m3 cache
  int features;      // split: 1 = window / softcap / ALiBi / sinks as run-time switches
  int l2_hint;       // split: 1 = K/V loads with an L2 evict_first policy
  int sink;          // combine: 1 = the sinks join here
  int heads = 1;     // split: KV heads per CTA (2: _h2, at most 16 packed rows per head)
  int cluster = 0;   // split: 1 = the _cl rows (the splits merge through a thread-block cluster)
  int wg = 0;        // split: 1 = the bf16 _wg rows (one warpgroup's wgmma main loop, 33..64
                     // rows per CTA); 2 = an _e4m3_wg row (the pipelined loop with the QK
                     // wgmma on the e4m3 K and two f16 V copies: mainloop_wg_e4m3_pipe.ptxh;
                     // layout.ptxh)
  int handout = 0;   // split: 1 = the _ho rows (chunks handed out at run time, ho_on.ptxh)
};
struct DecodeFactsTable {
  const DecodeRowFacts* rows;
  std::size_t count;
};
DecodeFactsTable decode_facts_sm90a();   // kernels_decode_sm90a.cpp
DecodeFactsTable decode_facts_sm100a();  // kernels_decode_sm100a.cpp

// The facts of a decode row (by name), or nullptr for another family's row.
const DecodeRowFacts* decode_row_facts(const KernelInfo* row);
// The split kernel a call runs on a device of compute capability sm (see above), or nullptr.
// heads_kv / packed_rows (seqlen_q * gqa) decide whether a multi-head row fits; 0 (the
// defaults): only one-head rows.
const KernelInfo* find_decode_split(int sm, int head_dim, int kv_bytes, bool features, int heads_kv = 0,
                                    int64_t packed_rows = 0);
// The combine kernel of head dim `head_dim`, with or without sinks, or nullptr.
const KernelInfo* find_decode_combine(int sm, int head_dim, bool sink);
// The cluster-merge twin (_cl: KERNEL_CLUSTER 1) of the split row a call would run without it
// (same head dim, cache type, features, main loop (wg: the _wg_cl rows); one KV head per CTA), or
// nullptr. find_decode_split never returns a _cl row: the plan picks the twin (decode_launch.cpp).
const KernelInfo* find_decode_cluster(int sm, int head_dim, int kv_bytes, bool features, bool wg = false);
// The wide twin of a split row (same head dim, cache type, features and main loop, one KV head per
// CTA, no cluster, no L2 hint, fewer stages: more CTAs per SM; the _s3 row of bf16 head dim 64), or
// nullptr. find_decode_split never returns it: the plan runs it when the unsplit grid covers the
// SMs (decode_prefers_wide_row, decode.h; decode_launch.cpp).
const KernelInfo* find_decode_wide(int sm, const KernelInfo* split_row);
// The two-heads twin of a one-head split row (_h2: same head dim, cache type, features and main
// loop, two KV heads per CTA, no cluster, no L2 hint, no hand-out) where two heads fit the call
// (heads_kv, packed_rows: find_decode_split's rule), or nullptr. For a bf16 row
// find_decode_split returns the one-head row first (the head dim's default); the plan runs the
// twin where decode_prefers_two_heads_bf16 says so (decode.h; decode_plan.cpp).
const KernelInfo* find_decode_two_heads(int sm, const KernelInfo* split_row, int heads_kv, int64_t packed_rows);
// Whether a split row merges its splits through a cluster (a _cl row).
bool decode_row_cluster(const KernelInfo* row);
// KV heads per CTA of a split row (1 for rows without facts, e.g. tests' fake rows).
int decode_row_heads(const KernelInfo* row);
// Whether a split row runs the warpgroup (wgmma) main loop (a _wg row).
bool decode_row_wg(const KernelInfo* row);
// Whether a split row takes its chunks from a per-unit counter at run time (an _ho row: named
// only; the plan then runs plan_decode_handout, decode.h).
bool decode_row_handout(const KernelInfo* row);
// Whether a split row's producer has the cp.async path for a contiguous cache (config.ptxh
// CPASYNC: a bf16 cache, one KV head per CTA, not _wg, no features, no L2 hint); the call takes it
// where its plan says so (DecodePlan::cpasync: decode_cpasync_cache, decode.h, and no tma override).
bool decode_row_cpasync(const KernelInfo* row);
// Whether a split row's QK is an e4m3 wgmma on the e4m3 K with Q split into two e4m3 tiles (the
// _e4m3_wg rows, wg 2): the rows whose LSE carries the logit_mag term of ptxfmha.h's e4m3 bound.
bool decode_row_qk_e4m3(const KernelInfo* row);
// Packed rows per split CTA (min(seqlen_q x gqa, 64)) from which a call runs a _wg row: 3 and 4
// m-tiles, where each warp of the mma.sync loop runs 3-4 sub-blocks per tile.
constexpr int64_t kDecodeWgMinRows = 33;
// The same for an e4m3 cache at head dim 256: 2 m-tiles already (17..32 rows), where the
// mma.sync row converts each tile once per m-tile. H200, 2026-12-05 (bench/results/
// h200-2026-12-05-s23/r2/n32): at 32 rows the mma.sync row took 1.26x-1.45x the _e4m3_wg row's
// time on all 6 cells (64/8 heads x 4 tokens, batch 8-128, kv 8k / 128k); at d128 0.97x-1.12x
// (no rule), at d64 not measured with the e4m3 QK. Rows 17..31 run the same m64 products and
// the same two m-tiles of mma.sync as 32.
constexpr int64_t kDecodeWgMinRowsE4m3D256 = 17;
// The threshold a call of this head dim and cache element size uses (one of the two above).
constexpr int64_t decode_wg_min_rows(int head_dim, int kv_bytes) {
  return head_dim == 256 && kv_bytes == 1 ? kDecodeWgMinRowsE4m3D256 : kDecodeWgMinRows;
}
// A decode split row by name on the device's arch folder (the A/B hook), or nullptr.
const KernelInfo* find_decode_split_named(int sm, const char* name);

}  // namespace ptxfmha
