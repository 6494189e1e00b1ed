// The library's decode split plan for a bench cell, offline: no driver, no GPU (issue 17's A/B
// workflow). ptxfmha_decode plans with the device's SM count and the split row's resident CTAs
// per SM (cuOccupancyMaxActiveBlocksPerMultiprocessor); this estimates the latter from the row's
// shared memory (+ 1 KiB the driver reserves per CTA) and threads, then runs the same pure code:
// the row choice (find_decode_split, decode_grid_row) and plan_decode with the library's options
// (cluster merge off: the default). On the H200 (132 SMs, 228 KiB per SM) it gives the split
// count, CTAs and row that the bench recorded on the GPU for every one of 682 cells of two
// library versions (bench/results/h200-2026-12-03-s12: r1's survey, r3's).
#pragma once

#include <cstdint>
#include <string>

#include "bench_case.h"
#include "ptxfmha/ptxfmha.h"

namespace ptxfmha_bench {

struct ReplayedDecodePlan {
  std::string row;     // the split kernel
  int per_sm = 0;      // resident split CTAs per SM (estimated)
  int splits = 0;      // num_splits
  int64_t ctas = 0;    // split grid CTAs
};

constexpr int64_t kReplaySmemPerSmBytes = 228 * 1024;  // H100 / H200
constexpr int64_t kReplayThreadsPerSm = 2048;
constexpr int64_t kReplayCtaReservedBytes = 1024;      // shared memory the driver keeps per CTA

// K/V strides of cell c's cache, in elements: dense [batch, seqlen_k, heads_kv, d] or the page
// pool [pages, page_size, heads_kv, d] (batch stride = page stride).
void decode_cache_strides(const Case& c, int64_t st[3]);

// The decode call's shape from cell c: batch, query tokens, keys, heads, head dim, the K and V
// strides (decode_cache_strides: the plan reads them, decode_cpasync_cache) and, for a paged cell,
// block_table (the bench's device table, or any non-null pointer for a plan) with the page size,
// pages per sequence and pool size. Everything else of *d is left as it is.
void decode_shape_params(const Case& c, const int32_t* block_table, ptxfmha_decode_params* d);

// The decode call of cell c on buffers the caller made: decode_shape_params, the pointers, dense Q
// and O strides ([batch, seqlen_q, heads_q, d]), c's causal flag and the scale 1 / sqrt(d).
// Workspace, stream and num_splits are left as they are. The bench's cells and
// `ptxfmha decode-trace` build their calls through it.
void decode_call_params(const Case& c, const void* q, const void* k, const void* v, void* o, float* lse,
                        const int32_t* block_table, ptxfmha_decode_params* d);

// Resident CTAs of smem_bytes dynamic shared memory and `threads` threads per SM (at most 32).
int replay_ctas_per_sm(int64_t smem_bytes, int64_t threads, int64_t smem_per_sm);

// The plan of decode cell c (a grid cell: the library's choice, c.variant empty; its cache type
// from c.kv_elem_bytes) on a Hopper device of `sms` SMs with smem_per_sm bytes of shared memory
// per SM. False with *why for an A/B variant cell or where no row fits the cell. Checked against
// the GPU on bf16 cells (2026-12-03) and on e4m3 cells (the 522 of 2026-12-04's fp8 survey,
// bench/results/h200-2026-12-04-s15; `ptxfmha decode-plans --cache e4m3`).
bool replay_decode_plan(const Case& c, int64_t sms, int64_t smem_per_sm, ReplayedDecodePlan* out,
                        std::string* why);

}  // namespace ptxfmha_bench
