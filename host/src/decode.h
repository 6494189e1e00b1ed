// Decode attention (ptxfmha_decode), host side: validation, split planning, the float64
// reference for paged / ragged caches. Entry points live in decode.cpp, the pure launch plan
// in decode_plan.cpp, the reference in decode_reference.cpp.
//
// Flow of ptxfmha_decode:
//   validate_decode_shape  everything that needs no device (list below)
//   acquire_device         context, architecture, SM count
//   plan                   kernel rows for head_dim, CTAs per SM (occupancy of the split
//                          kernel, a driver query), then the pure plan_decode: num_splits /
//                          split_keys, workspace layout, grids (decode_plan.cpp)
//   device checks          workspace present and large enough, every pointer range known
//                          to CUDA (check_device_range), workspace aliasing
//   launch                 fmha_decode_d<D>_<arch> (sm90a or sm100a, the device's row),
//                          grid (heads_kv * m_groups, num_splits, batch); when num_splits > 1
//                          fmha_decode_combine_d<D>_<arch>, grid
//                          batch * heads_q * seqlen_q (one row per CTA), launched with programmatic
//                          stream serialization (PDL) so its launch overlaps the split kernel
//                          (environment PTXFMHA_DECODE_PDL=0 turns that off, for measurements).
//
// What the host cannot check, and what the kernels do instead: block_table and seqlens_k
// live in device memory and are read asynchronously on the stream (earlier work on the
// stream may still be writing them), so their values are never read by the host:
//   - a page id outside [0, num_pages) is not rejected: the TMA tensor map spans exactly
//     num_pages pages, so such a page reads as zeros (never memory outside the cache);
//   - a seqlens_k[b] outside [0, max_seqlen_k] is clamped to that range.
// What the host does check for the table: page_size a power of two in [16, 256],
// max_blocks_per_seq >= 1, max_blocks_per_seq * page_size >= max_seqlen_k, num_pages >= 1,
// the K/V cache extent of num_pages pages, batch * max_blocks_per_seq < 2^31, both arrays
// 4-byte aligned and (once a context exists) inside memory CUDA knows.
#pragma once
#include <cstdint>
#include <vector>

#include "kernel_table.h"
#include "ptxfmha/ptxfmha.h"
#include "tensor_view.h"

namespace ptxfmha {

constexpr int kDecodeMaxSeqlenQ = 8;      // query tokens per sequence
constexpr int kDecodeBlockN = 64;         // keys per KV tile (KERNEL_BLOCK_N)
constexpr int kDecodeRowsPerCta = 64;     // packed query rows per split CTA (KERNEL_BLOCK_M)
constexpr int kDecodeMinPageSize = 16;
constexpr int kDecodeMaxPageSize = 256;
constexpr int kDecodeMaxSplits = 1024;    // accepted num_splits (grid.y <= 65535 anyway)

// Checks that need no device, in this order (the first failure is reported):
//   NULL_POINTER          params, q, k_cache, v_cache, o
//   INVALID_SIZE          batch, seqlen_q, max_seqlen_k, heads_q, heads_kv, head_dim <= 0
//   INVALID_ARGUMENT      seqlen_q > 8
//   GQA_RATIO             heads_q % heads_kv != 0
//   MISALIGNED_POINTER    q, k_cache, v_cache, o not 16-byte aligned; lse, seqlens_k,
//                         block_table, workspace not 4 / 4 / 4 / 16-byte aligned
//   INVALID_SCALE         softmax_scale NaN, infinite or <= 0
//   INVALID_ARGUMENT      causal not 0 or 1; num_splits < 0 or > 1024
//   INVALID_PAGE_TABLE    (block_table != NULL) page_size not a power of two in [16, 256],
//                         max_blocks_per_seq < 1, num_pages < 1,
//                         max_blocks_per_seq * page_size < max_seqlen_k
//   SIZE_OVERFLOW         batch > 65535 (grid z), max_seqlen_k > 2^31 - 65 (32-bit key
//                         indices), batch * heads_q * seqlen_q >= 2^31 (output rows),
//                         batch * max_blocks_per_seq >= 2^31 (table entries)
//   INVALID_STRIDE / SIZE_OVERFLOW  validate_tensor of q, o [batch, seqlen_q, heads_q, D] and
//                         of k, v: paged [num_pages, page_size, heads_kv, D] (batch stride =
//                         page stride), contiguous [batch, max_seqlen_k, heads_kv, D]
//   ALIASING              o overlaps q, k_cache, v_cache, seqlens_k or block_table; lse
//                         overlaps any of those or o
ptxfmha_status validate_decode_shape(const ptxfmha_decode_params* p);

// Tensor views of the decode operands (elem_bytes 2). k/v follow the paged or contiguous
// layout as above.
TensorView decode_q_view(const ptxfmha_decode_params& p);
TensorView decode_o_view(const ptxfmha_decode_params& p);
TensorView decode_k_view(const ptxfmha_decode_params& p);
TensorView decode_v_view(const ptxfmha_decode_params& p);

// Split heuristic (pure, testable without a device). `units` = CTAs per split
// (batch * heads_kv * m_groups), `kv_tiles` = ceil(max_seqlen_k / 64), `slots` = SMs x
// resident split CTAs per SM. Models the time of a choice s as
//   ceil(units * s / slots) waves x (ceil(kv_tiles / s) + 3 tiles of per-CTA overhead)
//   + 2 tiles for the combine kernel when s > 1
// and returns the s with the smallest time (the smallest such s on ties); s never
// exceeds kv_tiles or kDecodeMaxSplits, and only values with no empty trailing split are
// considered (s == ceil(kv_tiles / ceil(kv_tiles / s))).
// Measured on an H100 (2026-11-24, B=1, 8192 keys, Hq=32, Hkv=8, D=128, 264 slots): the
// model's choice s=32 ran in 18.95 us, forced s=16 / 22 / 43 / 64 in 18.34 / 20.09 / 21.26 /
// 22.95 us. The ordering follows tiles per SM (not per CTA) plus a combine cost growing with
// s; a per-SM model would pick 16 here but has not been measured on the other shapes yet.
int choose_num_splits(int64_t units, int64_t kv_tiles, int64_t slots);

// Output rows batch * heads_q * seqlen_q: rows of O and LSE, and of each split's partials.
inline int64_t decode_out_rows(const ptxfmha_decode_params& p) {
  return int64_t(p.batch) * p.heads_q * p.seqlen_q;
}

struct DecodePlan {
  const KernelInfo* split_row = nullptr;
  const KernelInfo* combine_row = nullptr;
  int m_groups = 1;        // ceil(seqlen_q * gqa / 64)
  int num_splits = 1;      // effective: no empty trailing split
  int split_keys = 0;      // keys per split, multiple of 64
  int box_shift = 6;       // log2(keys per TMA box)
  int page_shift = 0;      // log2(page_size) for a paged cache, else 0
  uint64_t ws_lse_offset = 0, ws_o_offset = 0;  // bytes into the workspace
  uint64_t workspace_bytes = 0;                 // 0 when num_splits == 1
  // Grids (plan_decode only): split kernel (heads_kv * m_groups, num_splits, batch); combine
  // kernel ceil(out rows / combine_row->block_m) CTAs, 0 when num_splits == 1 (no combine).
  unsigned split_grid[3] = {0, 0, 0};
  unsigned combine_grid = 0;
};

// Fills the plan's split sizes and workspace layout from the requested (0 = automatic) or
// chosen split count. Pure: `auto_splits` is what choose_num_splits gave (used when
// p.num_splits == 0). Requires a validated p.
void plan_decode_splits(const ptxfmha_decode_params& p, int auto_splits, DecodePlan* plan);

// The whole decode launch plan, pure (no driver call): the rows, the automatic split count
// choose_num_splits(batch * heads_kv * m_groups, ceil(max_seqlen_k / 64), slots) with
// slots = #SMs x resident split CTAs per SM, plan_decode_splits, and both grids. Requires a
// validated p and rows for p.head_dim.
void plan_decode(const ptxfmha_decode_params& p, const KernelInfo& split_row,
                 const KernelInfo& combine_row, int64_t slots, DecodePlan* plan);

// validate_decode_shape + acquire_device + the plan ptxfmha_decode would use for *p (kernel
// rows, num_splits, workspace layout). For tests, benchmarks and tools.
ptxfmha_status decode_plan(const ptxfmha_decode_params* p, DecodePlan* plan);

// ---- float64 reference ------------------------------------------------------------------
// Host copies of the decode operands (bf16 bit patterns), in the layouts of
// ptxfmha_decode_params: q [batch, seqlen_q, heads_q, D] with q_stride; caches paged
// (page_size > 0: [num_pages, page_size, heads_kv, D], k_stride[0] = page stride, table
// [batch, max_blocks_per_seq]) or contiguous (page_size == 0: [batch, max_seqlen_k,
// heads_kv, D]); seqlens may be empty (every sequence has max_seqlen_k keys), else values
// are clamped to [0, max_seqlen_k] as the kernel does.
struct RefDecodeShape {
  int batch = 0, seqlen_q = 0, max_seqlen_k = 0, heads_q = 0, heads_kv = 0, head_dim = 0;
  bool causal = false;
  double softmax_scale = 0;
  int64_t q_stride[3] = {0, 0, 0};
  int64_t k_stride[3] = {0, 0, 0};
  int64_t v_stride[3] = {0, 0, 0};
  int page_size = 0;           // 0 = contiguous cache
  int max_blocks_per_seq = 0;  // table columns when paged
  int num_pages = 0;           // pages in the cache when paged; ids outside [0, num_pages) read as zeros
};

// out: dense [batch, seqlen_q, heads_q, D]; lse: [batch, heads_q, seqlen_q], natural log.
// Gathers each sequence's keys into a dense copy and runs reference_fwd on it.
void reference_decode(const RefDecodeShape& s, const uint16_t* q, const uint16_t* k_cache,
                      const uint16_t* v_cache, const std::vector<int32_t>& seqlens,
                      const std::vector<int32_t>& block_table, std::vector<double>& out,
                      std::vector<double>& lse);

}  // namespace ptxfmha
