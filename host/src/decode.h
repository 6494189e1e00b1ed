// Decode attention (ptxfmha_decode, ptxfmha_decode_attn), host side: validation, split
// planning, the float64 reference for paged / ragged caches. Files: decode.cpp (views,
// validation, the ptxfmha_decode entry points), decode_launch.cpp (the one launch path both
// entry points share: rows, plan, parameter block, launches), decode_attn.cpp
// (ptxfmha_decode_attn: the features and the e4m3 cache), decode_plan.cpp (the pure launch
// plan), decode_rows.cpp (which kernel row a call runs), decode_reference.cpp (references).
//
// Flow of ptxfmha_decode (ptxfmha_decode_attn: decode_attn.cpp, then the same launch path):
//   validate_decode_shape  everything that needs no device (list below)
//   acquire_device         context, architecture, SM count
//   plan                   kernel rows for head_dim (decode_rows.h: cache type, features,
//                          sinks), CTAs per SM (occupancy of the split kernel, a driver
//                          query), then the pure plan_decode: num_splits / split_keys,
//                          workspace layout, grids (decode_plan.cpp)
//   device checks          workspace present and large enough, every pointer range known
//                          to CUDA (check_device_range), workspace aliasing
//   launch                 fmha_decode_d<D>_<arch> (sm90a or sm100a, the device's row),
//                          grid (heads_kv * m_groups, num_splits, batch); when num_splits > 1
//                          fmha_decode_combine_d<D>_<arch>, grid
//                          batch * heads_q * seqlen_q (one row per CTA), launched with programmatic
//                          stream serialization (PDL) so its launch overlaps the split kernel
//                          (environment PTXFMHA_DECODE_PDL=0 turns that off, for measurements);
//                          or, when the plan picks the cluster merge (DecodeClusterPolicy
//                          below), the _cl twin alone with cluster dims (1, num_splits, 1): no
//                          workspace, no combine kernel.
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
#include <cuda.h>

#include <cstdint>
#include <vector>

#include "kernel_table.h"
#include "ptxfmha/ptxfmha.h"
#include "ptxfmha/reference.h"
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
// kv_bytes: bytes per K/V cache element (2 bf16, 1 e4m3: ptxfmha_decode_attn's kv_dtype), for
// the cache views' strides and extents.
ptxfmha_status validate_decode_shape(const ptxfmha_decode_params* p, int kv_bytes = 2);

// Tensor views of the decode operands (q/o elem_bytes 2; k/v kv_bytes). k/v follow the paged
// or contiguous layout as above.
TensorView decode_q_view(const ptxfmha_decode_params& p);
TensorView decode_o_view(const ptxfmha_decode_params& p);
TensorView decode_k_view(const ptxfmha_decode_params& p, int kv_bytes = 2);
TensorView decode_v_view(const ptxfmha_decode_params& p, int kv_bytes = 2);
// Bytes per cache element of a decode_attn block: 1 for kv_dtype PTXFMHA_KV_E4M3, else 2.
int decode_attn_kv_bytes(const ptxfmha_decode_attn_params& p);

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
// s: the per-SM model below (choose_num_splits_bw, measured on 30 shapes on the H200) picks 16
// and is what the library plans bf16 caches with; this one plans the rest. max_splits: the
// library passes decode_max_splits (below).
int choose_num_splits(int64_t units, int64_t kv_tiles, int64_t slots, int64_t max_splits = kDecodeMaxSplits);
// The bandwidth model the library plans with (DecodePlanOptions::sms > 0; pure). A decode split
// kernel streams K and V at the HBM's rate, and the memory system shares that rate per SM, not
// per CTA: an SM holding two CTAs of a grid whose other SMs hold one keeps streaming after them,
// at most kDecodeSmRateCap times its even share (one SM cannot pull more). With N = units * s
// CTAs of t = ceil(kv_tiles / s) tiles dealt round-robin over `sms` SMs (the high SMs hold
// ceil(N / sms) CTAs, the others floor), in tile times at an even share:
//   phase 1: every SM with work streams at min(cap, sms / SMs with work) until the low SMs are
//            done (floor x t tiles);
//   phase 2: the high SMs stream their last t tiles at min(cap, sms / high SMs);
//   an SM never streams faster than its resident CTAs can pull: with a per-CTA rate cta_rate
//   (even-share units; 0 = no limit) an SM holding k CTAs pulls at most
//   min(cap', min(k, per_sm) x cta_rate), cap' = max(cap, cta_rate) (one CTA whose own rate is
//   above the cap pulls it: kDecodeCtaRateD256), and in phase 1 the high SMs take what the low
//   SMs leave (decode_cta_rate, measured per row kind, cache type and head dim);
//   + kDecodeCtaTiles per CTA the busiest SM starts (its first loads' latency)
//   + kDecodeBwMergeTiles + s x decode_bw_partials_tiles when s > 1 (the combine kernel behind
//     PDL; the partials written and read back)
//   + kDecodeTailTiles x t when N exceeds sms x per_sm and per_sm > 1 (a later wave of CTAs
//     whose last CTA of an SM streams alone with a ring sized for sharing the SM: 64-96 KiB at
//     head dim 64 / 128; a head-dim-256 CTA, one per SM, holds 192 KiB and streams alone well).
//     Measured (H200, 2026-12-02 16:30 UTC, s7 notes): right for long CTAs (kv 128k, batch 64 /
//     128: 5-10 splits 2% faster than 1), too high for 1.94 waves of kv-8k CTAs (d128 batch 64:
//     1 split 0.7-1.6% faster than the 2 it picked at 32/8 and 64/8 heads); a last-wave-fill
//     weighting fixed those and lost 1.9-2.4% at kv 128k, so the term stands. Since 2026-12-03
//     a CTA's start costs a whole tile (kDecodeCtaTiles), which picks 1 split on those cells.
// Used for bf16 caches, contiguous or in pages of >= 64 keys (whole 64-key TMA boxes), in
// smaller pages at head dims 64 / 128 outside the _wg rows (since 2026-12-03 20:30 UTC, at
// kDecodeCtaRateSmallPages), and for e4m3 caches at head dim 64, with the measured per-CTA rates
// (decode_plans_by_bandwidth, decode_cta_rate). The others keep the wave model: bf16 pages of 16
// or 32 keys at head dim 256 and in the _wg rows, e4m3 caches at head dims 128 / 256 (no per-CTA
// rate measured) and in the _e4m3_wg rows. Without a per-CTA rate the bandwidth model lost in
// pages of 16 (H200, 2026-12-02: batch 8 kv 8k ran 76.7 us at its 2 splits, 67.7 at the wave
// model's 4); at 0.85 (s12 r2, 232 moved plans) 120 cells ran faster by > 2%, 37 slower, up to
// 1.9x (d256 32/32 heads at 2 splits: 64 CTAs at 52% of the ceiling; the _wg rows 9-19%; kv-1k
// cells at batches 1 / 4 17%).
// choose_num_splits_bw returns the s with the smallest cost (smallest on ties; no empty
// trailing split, s <= kv_tiles, s <= max_splits: decode_max_splits in the library's plans).
// Fitted on the H200 (2026-12-02, 30 shapes x 4-7 forced split counts, bench/DECODE_NOTES.md
// "Split policy"): it picks the measured
// best count or one within 1.2% on every shape, where choose_num_splits (the wave model below)
// lost up to 22% (batch 1) and 4% (batch 8, d64 batch 32). E.g. 8 x 16 = 128 CTAs at batch 1
// (one per SM) beat 8 x 32 = 256 by 3% and 8 x 24 = 192 (two on some SMs) by 8%.
constexpr double kDecodeSmRateCap = 1.8;
// kDecodeCtaTiles was 0.5 until 2026-12-03: d128 batch 64 kv 8k (512 CTAs, 1.94 waves) then took 2
// splits at 32/8 and 64/8 heads where 1 was 0.7-1.6% faster (s6 / s7 forced counts); 1.0 picks 1
// there, and over the 26 bf16 shapes with forced counts of the s7 run the summed loss against
// the best count fell from 12.7% to 9.2% (worst shape 2.2% either way; offline replay).
constexpr double kDecodeCtaTiles = 1.0;
// kDecodeBwMergeTiles was 1.0 until the H200 run of 2026-12-02 14:05 UTC: batch 64, kv 4k, d128
// (512 CTAs) then took 2 splits, 248.5 us (GQA 4) / 259.8 us (GQA 16), against 243.7 / 247.5 us
// unsplit (cuDNN 243.9 / 245.7); 2.0 picks 1 there and the same counts on every other shape
// measured (bench/results/h200-2026-12-02-s6).
constexpr double kDecodeBwMergeTiles = 2.0;
constexpr double kDecodeTailTiles = 0.1;
// Per-CTA rates (even-share units) of the e4m3 head-dim-64 split kernel (4 CTAs per SM), from
// the unsplit batch-8 runs (64 CTAs, one per SM; H200, 2026-12-02 14:05 UTC): 1.12 TB/s over
// 64 CTAs = 0.53 of an SM's share contiguous (0.6 kept: every measured pick within 3.6% of the
// best, against 15% for the wave model at batch 32), 0.29 in pages of 16 keys (16 boxes of 1 KiB
// per tile; 0.3 kept, also for pages of 32).
// A CTA of more m-tiles (32 packed rows: 2) pulls kDecodeCtaRateE4m3 / m-tiles at most, since
// each m-tile's warps convert the tile's K and V themselves: forced counts at 64/8 heads x 4
// tokens (H200, 2026-12-04 16:19 UTC, bench/results/h200-2026-12-04-s15/r2) ran batch 8 best at 8
// splits (1.20x-1.36x the 4 the one-m-tile rate planned), batch 32 at 2 (1.23x-1.35x against 1);
// pages of 16 (0.3 already) kept their counts. The _e4m3_wg rows (33..64 rows) plan by waves
// (decode_plans_by_bandwidth).
constexpr double kDecodeCtaRateE4m3 = 0.6;
constexpr double kDecodeCtaRateE4m3SmallPages = 0.3;
// Per-CTA rate of a bf16 split CTA whose packed rows (query tokens x GQA ratio) need more than
// one m-tile, per m-tile and per 64 head-dim columns: kDecodeCtaRateRowTile x D / 64 / m-tiles.
// Its warps' 16-key sub-blocks per tile grow with the m-tiles and its bytes per tile with D.
// Measured (H200, 2026-12-03 10:19 UTC, s9 notes, forced split counts of 4 query tokens at
// GQA 8 / 16): d128 2 m-tiles 1.14 (80 CTAs, batch 1, kv 128k), 4 m-tiles 0.59 (128 CTAs);
// d64 2 m-tiles 0.73-0.77; d256 2 m-tiles >= 1.52. Without the rate the model took 80 CTAs
// for batch 1 at 4 tokens (one CTA per SM pulling 1.65x its share): 1.39x the best count's
// time at GQA 8 d128, 2.2x at GQA 16, 1.9x at GQA 8 d64.
constexpr double kDecodeCtaRateRowTile = 1.15;
// Per-CTA rates of one-m-tile bf16 split CTAs (<= 16 packed rows), fitted on forced split counts
// (H200, 2026-12-03 17:14 UTC, bench/results/h200-2026-12-03-s12/r1: batch 1, 128/8 x 1 token
// and 32/8 x 4 tokens, counts 8-32, kv 1k-128k, contiguous and pages of 64; batches 4 / 8):
//   d64 (3 CTAs per SM): 64 CTAs (8 splits) ran kv 128k at 63% of the ceiling = 1.30 shares
//     per CTA, 80 CTAs 1.27; the model without a rate took 10 splits (81.8 us) where 16 ran 65.3.
//   d256 (one per SM, 192 KiB of ring): 64 CTAs streamed at 96.5% of the ceiling = 2.0 shares,
//     above the SM cap of the smaller rings; 8 splits were the best count at kv 4k-128k (248.0
//     us at 128k against 272.9 with the model's 10) and 64 CTAs at batches 4 / 8 (2 / 1 splits).
//     A rate above kDecodeSmRateCap lifts an SM's cap to it (decode_bw_split_cost). 2.1, not
//     132 / 64 = 2.06: 80-104 CTAs (10-13 splits) ran 5-10% slower than 64 or 128 (a cost the
//     model does not see), and at 2.1 the 64-CTA plan wins the tie.
//   d128: no rate (64 CTAs 1.80 shares, the SM cap).
// A/B of the changed plans, old library against new (same device call, 158 cells, r2): 73 cells
// faster by > 2% (up to 1.26x: d64 batch 1 kv 128k 82.2 -> 65.5 us), 11 slower by 2.0-3.3%
// (d64 batch 1 kv 1k, 16 splits where 8 ran 0.2 us faster; d256 batches 4 / 8 kv 128k, 64 CTAs
// at 98.2-98.5% of the ceiling where 128 ran 100.3-101.2%).
constexpr double kDecodeCtaRateD64 = 1.25;
constexpr double kDecodeCtaRateD256 = 2.1;
// Per-CTA rates of a _wg CTA (bf16, 33..64 packed rows, one wgmma pass of the warpgroup per
// tile), by head dim. Measured (H200, 2026-12-03 12:41 UTC, bench/results/h200-2026-12-03-s10,
// forced split counts at 128/8 heads x 4 query tokens, contiguous): d128 batch 1 kv 128k 8
// splits (64 CTAs) 61.6% of the read ceiling = 1.27 of an SM's share per CTA; d64 batch 1 kv
// 128k 8 / 16 splits 0.82 / 0.78, batch 8 kv 128k 2 splits (128 CTAs) 0.79. Without a rate (as
// at one m-tile) the model planned d64 batch 1 kv 128k at 128.0 us where 33 splits ran 72.8.
// d256 (one CTA per SM: ring and Q tile 224 KiB), forced split counts at 128/8 x 4 tokens,
// contiguous (H200, 2026-12-05 04:21-04:29 UTC, bench/results/h200-2026-12-05-s20/r2): batch 1
// kv 32k 8 / 16 splits 85.5 / 82.4 us, kv 128k 290.9 / 262.1 (1 / 2 / 4 splits 5-11x slower);
// batch 8 kv 32k 1 / 2 / 4 / 8 / 16 splits 561.2 / 492.0 / 508.4 / 526.1 / 550.6 us, kv 128k
// 1 / 2 2181.5 / 1894.9 (99.9% of the read ceiling). A CTA alone pulls 1.70-1.83 shares (8-64
// CTAs), but 1.25 is the rate at which the model picks the measured best count on all four
// shapes (16 / 16 / 2 / 2): at 1.75 it takes 10-11 splits at batch 1 (80-88 CTAs, not timed;
// the one-m-tile d256 row ran such counts 5-10% slower than 64 or 128, above) and at the
// one-m-tile d256 row's 2.1 (the plan before) 1 split at batch 8 (1.14x / 1.15x the best).
// Batches 32-128 keep 1 split at 1.21-1.26 (94-99.7% of the ceiling measured); below 1.21
// batch 128 kv 128k would take 5 (not timed). Batch 1 kv 8k takes 13 at 1.25 (not timed).
constexpr double kDecodeCtaRateWgD64 = 0.8;
constexpr double kDecodeCtaRateWgD128 = 1.25;
constexpr double kDecodeCtaRateWgD256 = 1.25;
// Per-CTA rate of a bf16 split CTA reading pages of fewer than 64 keys (head dims 64 / 128, not
// the _wg rows): its producer lane issues one TMA box per page, 4 per 64-key tile in pages of 16.
// Replayed offline against the s12 timings (2026-12-03, `ptxfmha decode-plans`), then timed old
// library against new in one call (H200, 2026-12-03 20:11-20:28 UTC, bench/results/
// h200-2026-12-03-s13, r1): of the 197 moved plans timed 121 faster by > 2% (d64 batch 32 kv 1k
// 25.1 -> 20.2 us, 0.87x -> 1.07x cuDNN; d64 batch 1 kv 8k 43 -> 32 splits 11.3 -> 9.9 us), 4
// slower by 2.0-3.1% (d64 batch 32 / 128 at kv 32k-128k, 1 <-> 2 splits). At head dim 256 the
// same rate lost up to 9% (batch 4 kv 128k: 41 splits where the wave model's 4 ran at 98% of
// the ceiling; a d256 CTA reading pages of 16 pulls ~1.07 shares, not 0.6), and the _wg rows lost
// 9-19% at 0.85 (s12): both keep the wave model.
constexpr double kDecodeCtaRateSmallPages = 0.6;
// At least this many 64-key tiles per split (bf16; decode_max_splits): a one-tile split pays a
// CTA's start and a partial-O row for 64 keys. Batch 1 kv 1k (16 tiles) planned 16 splits; 8 ran
// faster at every head dim (s12 forced counts: d64 5.7 vs 6.0 us, d128 7.4 vs 8.1, d256 10.6 vs
// 14.6; s13 A/B of the 20 moved plans: 18 faster by 3-29%, 2 within 2%, d256 128/8 in pages of
// 16 15.0 -> 11.6 us, 0.81x -> 1.06x cuDNN).
constexpr int64_t kDecodeMinSplitTiles = 2;
// The partials' traffic of one split in tile times (the model's unit): each of the call's
// out_rows output rows writes D fp32 partials per split and the combine kernel reads them
// back, 8 D bytes, against sms x 64 keys x D x kv_bytes x 2 bytes per tile time. Added s times
// to a split plan's cost: a GQA-16 call (64 rows per KV head) pays 4x a GQA-4 one. Without it
// the model split batch 64, kv 8k, d128 at 128/8 heads in 2 (H200, 2026-12-02 16:30 UTC:
// 4311 GB/s, unsplit 4438, cuDNN 4423; bench/results/h200-2026-12-02-s7).
double decode_bw_partials_tiles(int64_t out_rows, int64_t sms, int kv_bytes);
double decode_bw_split_cost(int64_t units, int64_t kv_tiles, int64_t sms, int64_t per_sm, int64_t s,
                            double cta_rate = 0.0, double partials_tiles = 0.0);
int choose_num_splits_bw(int64_t units, int64_t kv_tiles, int64_t sms, int64_t per_sm,
                         double cta_rate = 0.0, double partials_tiles = 0.0,
                         int64_t max_splits = kDecodeMaxSplits);
// The most splits a call's plan considers (both models): kv_tiles / kDecodeMinSplitTiles (at
// least 1) for a bf16 cache (kv_bytes 2), kDecodeMaxSplits for e4m3 (one-tile splits not measured).
int64_t decode_max_splits(int64_t kv_tiles, int kv_bytes);
// The most splits of a bf16 call (kv_bytes 2) whose CTAs hold
// >= kDecodeOneWaveRows packed rows (query tokens x GQA ratio, at most 64 per CTA) on a grid of
// fewer units than SMs: at head dims 64 / 128 sms / units, one CTA per SM (head dim 256 and the
// d128 _wg rows (`wg_loop`) over short caches: half the SMs, below);
// otherwise no cap (kDecodeMaxSplits). Their
// partials (rows x D x 4 bytes per split, written and read back by the combine kernel) cost more
// than the split model's bandwidth term: measured on the H100 (2026-12-06 16:50 UTC, forced
// counts, bench/results/h100-2026-12-06-s31/n1), batch 1 at 64/8 and 128/8 heads x 4 tokens
// (32 and 64 rows) ran 0.1-23% faster at 16 splits (128 CTAs) than at the planned 27-47 (d128
// 128/8 kv 4k in pages of 16: 15.9 against 20.7 us), and batch 8 (64 units) at 2 splits within
// 0.2% of the planned 2-6 or up to 6.2% faster (d64 128/8 kv 8k: 54.2 against 57.8 us). e4m3 is
// left out: its 64/8 x 4 tokens batch 8 ran 10% slower at 2 splits than planned. So are head-dim-64
// caches of more than kDecodeOneWaveMaxTiles tiles (32k keys), where the partials weigh less
// against the keys and a second CTA per SM may still add rate: at kv 128k, batch 1, 16 splits
// against 24 / 32-33 were mixed there (s32 n4: 128/8 contiguous 92.8 against 97.2 us, in pages of
// 16 108.8 against 98.9). Head dim 128 is capped at any length (s36): at kv 128k one CTA per SM
// was the best on all 8 cells timed, where the model took two in pages of 16 (batch 1, s32 n4:
// 128/8 181.6 against 193.8 us at 33 splits; batches 4 / 8, 64/8 and 128/8 in pages of 16,
// 2026-12-07 05:49 UTC, bench/results/h100-2026-12-07-s36/n8: 0.8-1.4% faster, 708.3 against
// 717.8 us at batch 4 128/8).
// Two CTAs per SM (2 x sms / units splits, at most kDecodeTwoPerSmMaxSplits) at head dim 64 where
// a CTA copies each tile in small pieces (`cpasync`: the call runs the cp.async producer, a
// cp.async row on a decode_cpasync_cache; or a TMA box per page of < 64 keys, any row) and the
// cache holds >= kDecodeTwoPerSmMinTiles tiles: one such CTA per SM does not keep enough 128-byte
// rows in flight. Measured on the H100
// (2026-12-06 18:33 UTC, forced counts, bench/results/h100-2026-12-06-s32/n4 and s31/n1): batch 4
// (32 units) kv 4k-32k at 8 splits against 4: the plain row at 64/8 x 4 tokens 0.5-5.2% faster (6
// cells, kv 32k contiguous 95.4 against 100.6 us), the _wg row in pages of 16 at 128/8 x 4 -1.0%,
// +1.8%, +10.7% (kv 32k 98.0 against 109.7); batch 8 kv 8k at 4 against 2: the _wg row in pages of 16
// 4.4% faster, the plain row -1.5% / +0.4%. Left at one per SM: head dim 128 (at batch 4 one per SM
// was the best of 2-12 splits on all 12 cells), the _wg rows' whole-tile TMA boxes (contiguous: 4
// splits 2.9-3.1% faster than 8 at batch 4, 2 splits 6.2% faster than 4 at batch 8; pages of 64
// not measured), the plain row in pages of >= 64 keys (not measured), and batch 1 (8 units: at d64 16
// splits beat 32-33 on 11 of 12 cells, by up to 13%: the partials of 32 splits per unit).
// Head dim 256 (any kv length): sms / (2 x units) splits, half the SMs, where that is still >=
// kDecodeHalfWaveMinSplits splits per unit (batch 1 at 8 KV heads) and a CTA takes its tiles as
// whole TMA boxes (the _wg row; the plain row in pages of >= 64 keys or on a cache the cp.async
// producer does not take). Measured on the H100 (2026-12-06 20:42 UTC, forced counts,
// bench/results/h100-2026-12-06-s33/n5), batch 1 at 64/8 and 128/8 heads x 4 tokens (32 / 64
// rows), kv 4k-128k: the planned 10-16 splits (80-128 CTAs) took 1.074-1.139x the time of 8 (64
// CTAs) at 64/8 in pages of 64 (kv 32k 114.2 against 101.6 us) and 1.043-1.105x at 128/8 at kv
// 4k-32k (contiguous and pages of 64); at kv 128k 8 splits were 0.6% slower / 1.7% faster. The
// library with this cap, run as planned beside 10 / 11 / 13 / 16 forced (21:28 UTC, s33/n6): the
// best on 11 of the 12 cells, 0.5% over 16 splits on the 12th (kv 128k 128/8 contiguous). Left
// to the model: the plain row's cp.async (64/8 contiguous: 8 splits took 1.020-1.159x the planned
// 10-11), pages of < 64 keys (8 not timed), one-m-tile CTAs (the model plans half the SMs there)
// and more units (decode_rows_split_floor).
// Head dim 128, the _wg rows (wg_loop: 33-64 packed rows, one warpgroup's wgmma loop) on whole-tile
// TMA boxes (contiguous or pages of >= 64 keys) where the cache holds <= kDecodeHalfWaveWgD128MaxTiles
// tiles (8k keys): half the SMs as at head dim 256. The model took 13 splits (104 CTAs, between
// half and all of the SMs, where the d256 grids lose too); measured on the H100 (2026-12-07 05:49
// UTC, forced counts, bench/results/h100-2026-12-07-s36/n8), batch 1 at 128/8 x 4 tokens (64
// rows), 8 splits (64 CTAs) against 13 / 16: kv 4k contiguous 15.03 against 16.20 / 15.68 us, in
// pages of 64 15.37 against 16.40 / 15.90; kv 8k contiguous 21.36 against 21.86 / 21.36, in pages
// of 64 21.30 against 22.28 / 22.05 (decode_split_replay.py: the plan 1.024-1.078x its best on
// these four cells, the best of the 13 replay cells over 2%). At kv 32k 8 splits lose (contiguous
// 56.98 against 54.59 at 13, 54.83 at 16), so longer caches keep the model. Left to the model:
// pages of 16 (kv 4k 8 splits 15.39 against the planned 16's 15.89, kv 8k 22.26 against 21.63:
// mixed) and the plain d128 row's 16-32 rows (its 80-88-CTA plans are not timed on the H100).
// Run as the library's plan (H100, 2026-12-08, bench/results/h100-2026-12-08-s44 n1 / n2, two
// cards): 13 splits forced took 1.015-1.074x its time, 16 splits 0.987-1.039x.
constexpr int64_t kDecodeHalfWaveWgD128MaxTiles = 128;
constexpr int64_t kDecodeHalfWaveMinSplits = 8;
constexpr int64_t kDecodeOneWaveRows = 32;
constexpr int64_t kDecodeOneWaveMaxTiles = 512;
constexpr int64_t kDecodeTwoPerSmMaxSplits = 8;
constexpr int64_t kDecodeTwoPerSmMinTiles = 64;
int64_t decode_rows_split_cap(const ptxfmha_decode_params& p, int64_t units, int64_t sms, int kv_bytes,
                              int64_t kv_tiles, bool cpasync = false, bool wg_loop = false);
// The fewest splits of such a call (bf16, >= kDecodeOneWaveRows rows per CTA, fewer units than
// SMs) at head dim 256 where half the SMs would leave fewer than kDecodeHalfWaveMinSplits splits
// per unit (batches >= 2 at 8 KV heads) and the cache holds >= kDecodeOnePerSmMinTiles tiles (4k
// keys, the shortest timed): sms / units, one CTA per SM (at most the cap and the cache's tiles
// allow); otherwise 1 (the model's count stands). The model plans 3 splits (96 CTAs)
// at batch 4, 64/8 x 4 tokens, kv >= 8k; measured on the H100 (2026-12-06 21:28 UTC, forced
// counts, bench/results/h100-2026-12-06-s33/n6) 4 splits ran 6.6-11.4% faster there, contiguous
// (cp.async; kv 32k 365.0 against 394.2 us) and in pages of 64 (kv 128k 1405.6 against 1585.9),
// and were the best of 2 / 3 / 4 / 6 or within 1.3% of 2. At batch 4 128/8 x 4 the model's 4
// splits were the best or within 3.6% (kv 4k in pages of 64: 2 splits 61.6 against 63.8 us). On
// the H100 d256 grids of 80-104 CTAs (between half and all of 132 SMs, one CTA per SM) ran
// slower than the better of 64 and 128 in 76 of the 80 batch-1 and batch-4 cells timed at all
// three (s33 n5 and n6; by 1.2-13.9%); the 4 others are the cp.async row at batch 1, 64/8 x 4
// (the model's 10-11 splits, kept there: kDecodeHalfWaveMinSplits).
constexpr int64_t kDecodeOnePerSmMinTiles = 64;
// The same floor, one CTA per SM, for head-dim-256 CTAs of one m-tile (<= 16 rows) that take their
// tiles as whole TMA boxes (not `cpasync`; pages of >= 64 keys, or a contiguous cache the
// cp.async producer does not take) where the cache holds >= kDecodeOneMtileFloorMinTiles tiles (8k
// keys), on the same grids (fewer units than SMs, half a wave < kDecodeHalfWaveMinSplits splits per
// unit). Such a CTA pulls 1.86-1.92 SM shares (s35), under the 2.1 of kDecodeCtaRateD256 (the
// cp.async CTA's), so the model's half-wave grids (64 CTAs) leave bandwidth unused. Measured on
// the H100, pages of 64, one CTA per SM (128 CTAs) against the model's 64:
//   - 32/32 heads (32 units), batch 1, 1 and 4 tokens (s33 n5): 1.5-5.5% faster at kv 8k-128k
//     (kv 128k 1399.5 against 1470.5 us), 0.6-3.0% at kv 4k;
//   - batches 4 / 8 at 32/8, 64/8, 128/8 x 1 token (4-16 rows; 2026-12-07 05:48 UTC, s36 n8):
//     2.3-4.1% faster at kv 32k-128k (batch 4 kv 128k 1400.6 against 1457.4 us), 0.1-1.6% at kv
//     8k; at kv 4k 0.2-1.5% slower (hence the 8k minimum).
// On the cp.async producer the model stays (contiguous 32/32 batch 1: 128 CTAs 0.8-1.9% faster at
// kv >= 32k, 0.4-2.0% slower at 4k-8k). Not measured: batch 2 (16 units, 8 splits).
constexpr int64_t kDecodeOneMtileFloorMinTiles = 128;
int64_t decode_rows_split_floor(const ptxfmha_decode_params& p, int64_t units, int64_t sms, int kv_bytes,
                                int64_t kv_tiles, bool cpasync = false);
// Whether a call's cache suits the cp.async producer of the plain bf16 rows: contiguous bf16 whose
// K and V strides agree (in elements), positive, a row's and a head's byte strides below 2^32.
// Else the rows load through TMA (the launch leaves DP_K_PTR 0).
bool decode_cpasync_cache(const ptxfmha_decode_params& p, int kv_bytes);
// Whether a call plans its splits with choose_num_splits_bw: a bf16 cache (kv_bytes 2),
// contiguous, in pages of >= 64 keys, or in smaller pages at head dims 64 / 128 outside the _wg
// rows (wg_loop; kDecodeCtaRateSmallPages), or an e4m3 cache (kv_bytes 1) at head dim 64 outside
// the _e4m3_wg rows (their CTA is bound by its own chain of conversion, products and softmax:
// batch 8 / 32 ran 1.02x-1.23x faster at the wave model's 6 / 3 splits than at the bandwidth
// model's 4 / 1, H200 2026-12-04, s15 r2).
bool decode_plans_by_bandwidth(const ptxfmha_decode_params& p, int kv_bytes, bool wg_loop = false);
// The per-CTA rate choose_num_splits_bw plans a call with (consulted where
// decode_plans_by_bandwidth says yes, so for e4m3 only at head dim 64, where it was measured):
// bf16 in pages of < 64 keys (not _wg): kDecodeCtaRateSmallPages;
// bf16, a CTA's packed rows in one 16-row m-tile: kDecodeCtaRateD64 at head dim 64, none (0) at
// 128, kDecodeCtaRateD256 at 256; in more m-tiles min(kDecodeSmRateCap, kDecodeCtaRateRowTile
// x head_dim / 64 / m-tiles); a _wg row (wg_loop: one warpgroup's wgmma loop, the CTA's rows in
// one pass per tile) kDecodeCtaRateWgD64 / kDecodeCtaRateWgD128 / kDecodeCtaRateWgD256 (its head
// dims).
// e4m3: kDecodeCtaRateE4m3, kDecodeCtaRateE4m3SmallPages in pages of < 64 keys, at most
// kDecodeCtaRateE4m3 / m-tiles.
double decode_cta_rate(const ptxfmha_decode_params& p, int kv_bytes, bool wg_loop = false);
// The combine's cost the wave model (best_num_splits) plans a call with, in tile times:
// kDecodeCombineTilesE4m3Wg for the _e4m3_wg rows (kv_bytes 1, wg_loop), else kDecodeCombineTiles.
double decode_combine_tiles(int kv_bytes, bool wg_loop);
// Query rows of one KV head packed into the M dimension: seqlen_q x GQA ratio (kernel.ptxh).
int64_t decode_packed_rows(const ptxfmha_decode_params& p);
// A split CTA's packed rows: min(decode_packed_rows, kDecodeRowsPerCta).
int64_t decode_cta_rows(const ptxfmha_decode_params& p);
// 16-row m-tiles of a split CTA's packed rows: ceil(min(seqlen_q x gqa, 64) / 16), 1..4. The
// four consumer warps share a 64-key tile as m-tiles x key parts, so each warp runs m-tiles
// 16-key sub-blocks per tile (kernel.ptxh): the CTA's work per byte grows with it.
int decode_cta_m_tiles(const ptxfmha_decode_params& p);
// Split CTAs of one split: batch x (heads_kv / heads_per_cta) x m-groups (the grid's x and z).
int64_t decode_split_units(const ptxfmha_decode_params& p, int heads_per_cta = 1);
// Whether a call runs the wide twin of its split row (find_decode_wide: fewer stages, more CTAs
// per SM) instead of the row: when the unsplit grid alone has a CTA for every SM (units >= sms).
// Measured on the H200 (2026-12-02 16:00 UTC, bench/results/h200-2026-12-02-s7), bf16 d64, _s3
// (3 stages, 4 CTAs per SM) against the plain row (4 stages, 3 CTAs per SM): batch >= 32 (256-1024
// unsplit CTAs) 0.95-0.99x the time contiguous, 0.88-0.97x in pages of 16 keys (batch 64 kv 8k:
// 244.9 against 249.3 us, cuDNN 243.9); batch 1 and 8 (8-64 CTAs, split) 1.04-1.10x: an SM holding
// one or two CTAs streams less with 48 KiB rings than with 64 KiB.
bool decode_prefers_wide_row(int64_t units, int64_t sms);
// Whether a call that fits a two-heads row (_h2: the e4m3 d64 row, decode_rows.h) runs it
// instead of the one-head row of the same facts: when its grid of two-heads units (batch x
// heads_kv / 2 x m-groups) is large enough, units x kDecodeTwoHeadsSmsPerCta >= sms (contiguous,
// pages of >= 64 keys), units >= kDecodeTwoHeadsSmallPagesWaves x sms (pages of < 64 keys: an
// _h2 CTA issues both heads' boxes, 32 of 1 KiB per tile in pages of 16, from one producer lane).
// Why: at e4m3 d64 a key's row of one KV head is 64 bytes, half an L2 line, the other half the
// neighbouring head's, read by another CTA; one-head CTAs at batch 64 kv 8k read 604 MB from DRAM
// for 537 MB of K and V (ncu, H200, 2026-12-03) and stream at 83% of the read ceiling, two-heads
// CTAs read 537 MB at 96%. Small grids lose with it (half the CTAs, each twice the work per tile).
// Two-heads / one-head time on the H200 (2026-12-03 07:56 UTC, 32/8 heads, kv 8k / 32k): batch 1
// (4 units) 1.07-1.24, batch 8 (32) 0.96-0.98, batch 32 (128) 0.94-0.99, batch 64 (256) 0.81-0.87,
// batch 128 (512) 0.84-0.91, contiguous and in pages of 64; pages of 16 0.995-1.35 up to batch 32,
// 1.01 / 0.96 at batch 64, 0.83-0.85 at batch 128 (bench/results/h200-2026-12-03-s8). The
// thresholds sit between those points. Batch 4 (16 units: one head) measured after: 1.01-1.03 at
// kv 8k, 0.95-0.98 at kv 32k / 128k, so the rule leaves 2-5% there (it sees units, not length).
constexpr int64_t kDecodeTwoHeadsSmsPerCta = 8;
constexpr int64_t kDecodeTwoHeadsSmallPagesWaves = 2;
bool decode_prefers_two_heads(int64_t units, int64_t sms, bool small_pages);
// Whether a bf16 call that fits a two-heads row (heads_kv even, <= 16 packed rows per head, plain,
// no cluster) runs the head dim's two-heads twin (find_decode_two_heads) instead of the one-head
// row find_decode_split picked, where the two-heads grid covers the SMs (units = batch x heads_kv /
// 2 >= sms): at head dim 64 contiguous or in pages of >= 64 keys (and at 8k-32k keys on a grid short
// of a wave by at most sms / 32 SMs, below), at head dim 128 in pages of >= 64
// keys at 4k-32k keys only (paged: the call has a block table; small_pages: its pages hold < 64
// keys; max_keys: its max_seqlen_k).
// Why: a key's row of one KV head is 128 bytes at bf16 d64, one L2 line, the neighbouring heads'
// lines read by other CTAs at other times; the s35 table (H100) has bf16 d64 at a median 95% of
// the read ceiling at batch >= 32 where d128 (256-byte rows) reads 99%. _h2 CTAs read both heads'
// rows of a key (256 contiguous bytes). Two-heads / plan time on an H100 (2026-12-07 14:30 UTC,
// bench/results/h100-2026-12-07-s39/n1, two rounds, the plan's splits for each row): 256-2048
// units 0.961-0.993 (32/8 and 128/8 x 1 token in pages of 64 at batch 64: 0.962-0.967; 64/8 at
// batch 128 contiguous 0.970-0.972; 32/32 x 4 tokens at batch 32-128 0.982-0.993, contiguous and pages
// of 64), at 99.4-100% of the ceiling; 128 units 0.991-1.011 (batch 8 32/32 0.995-0.997, batch 32
// 128/8 kv 8k 0.991, kv 1k 1.011); pages of 16 at 128 units 1.021-1.022. The plan with this rule
// against the plan before it (n2, 2026-12-07 15:10 UTC, H100, 40 cells it moves: batch 32-128, kv
// 1k-32k, 32/32, 32/8, 64/8, 128/8 heads, 1 / 4 tokens, contiguous and pages of 64): 0.969-1.004x
// the time, median 0.985; kv 1k 64/8 at batch 64 1.004 (within the rounds' 0.5% drift). d128 on a
// contiguous cache (cp.async, 99% already) and pages of < 64 keys keep the one-head row (not
// measured a gain).
// d128 in pages of >= 64 keys at 4k-32k keys (max_keys: the call's max_seqlen_k; s40): the
// one-head row loads a page's 64 keys of one head as TMA boxes of 256-byte rows 2-8 KiB apart; the
// two-heads row's boxes take both heads' rows of a key, 512 contiguous bytes, one CTA per SM (192
// KiB of stages). The lent H100s come in two kinds (every run since s24 has its read ceiling at
// 3,073-3,084 GB/s or at 3,160-3,183 GB/s; bench/results/h100-2026-12-07-s40/NOTES.md). On the
// slower kind (n3, 2026-12-07 16:36 UTC, two rounds, 512-2048 units, 32/32 x 1 and 4 tokens in
// pages of 64 at batch 32-128, kv 4k-32k) two-heads / plan time 0.977-0.986, 99.2-100.5% of the
// ceiling against 97.5-98.2%; on the faster kind (n5, 16:51 UTC, 86 cells of 32/32, 32/8, 64/8,
// 128/8 x 1 and 4 tokens at batch 32-128, cuDNN beside) the one-head row reads 99-100.5% already
// and two heads give 0.983-1.009 (median 0.998, 42 moved cells) at kv 4k-32k, but 0.999-1.018
// (median 1.010) at kv 1k (a 16-tile CTA alone on its SM) and 0.994-1.017 (median 1.007) at kv 128k
// (the two-heads plan takes 1 split, 3.9 waves of long CTAs, where the one-head plan takes 5-10),
// so the rule keeps to 4k-32k keys (the same kernel on both sides: 0.999-1.001). Contiguous (the cp.async
// row: 99.5-101% of the ceiling) 0.988-1.013: not taken.
// d64 on a grid short of a wave (s44): two-heads units >= sms x (1 - 1 / kDecodeTwoHeadsD64NearWaveDiv)
// (128 of 132 SMs: batch 32 at 8 KV heads, batch 8 at 32), contiguous or in pages of >= 64 keys, at
// kDecodeTwoHeadsD64NearMinKeys-kDecodeTwoHeadsD64NearMaxKeys keys (8k-32k). The one-head plan there
// is the wide twin at 256 CTAs (cp.async on a contiguous cache); the two-heads row leaves 4 SMs idle
// and still reads faster. Two-heads / plan time on an H100 (2026-12-08 04:25 and 04:35 UTC, n1 / n2,
// bench/results/h100-2026-12-08-s44; one process each, 48 cells of 32/8, 64/8, 128/8 x 1 token and
// 32/8 x 4 at batch 32, 32/32 x 1 and 4 tokens at batch 8): kv 8k 0.987-0.996, kv 32k 0.982-0.990
// (98.1-100.3% of the ceiling against 96.9-99.1%), all 24 faster; kv 4k 0.992-1.003 (within the drift),
// kv 1k 0.996-1.019 (a 16-tile CTA: the idle SMs weigh more). kv 128k not measured.
constexpr int64_t kDecodeTwoHeadsD64NearWaveDiv = 32;
constexpr int64_t kDecodeTwoHeadsD64NearMinKeys = 8192;
constexpr int64_t kDecodeTwoHeadsD64NearMaxKeys = 32768;
constexpr int64_t kDecodeTwoHeadsD128MinKeys = 4096;
constexpr int64_t kDecodeTwoHeadsD128MaxKeys = 32768;
bool decode_prefers_two_heads_bf16(int head_dim, int64_t units, int64_t sms, bool paged, bool small_pages,
                                   int64_t max_keys);
// The split row a call runs on a device of compute capability sm with `sms` SMs when it names
// none: `row` (what find_decode_split picked), the bf16 two-heads twin where
// decode_prefers_two_heads_bf16 says so (not when the call may cluster), the one-head row of its facts where a two-heads
// row's grid is too small (decode_prefers_two_heads) or the call may merge its splits in a
// cluster (may_cluster: its cluster policy is not Off; the _cl twins take one KV head per CTA),
// or its wide twin where decode_prefers_wide_row says so (the library's launch and the bench's
// label).
const KernelInfo* decode_grid_row(int sm, int64_t sms, const KernelInfo* row,
                                  const ptxfmha_decode_params& p, bool may_cluster = false);
// The cluster merge (the _cl rows, issue 17): the num_splits CTAs of one (sequence, KV head,
// m-group) form a thread-block cluster and merge their partials through distributed shared
// memory, with no combine kernel and no workspace. Cluster sizes: up to 8 portable, up to 16
// with the non-portable attribute where the device keeps such a cluster resident
// (cuOccupancyMaxActiveClusters, decode_launch.cpp).
constexpr int kDecodeClusterPortable = 8;
constexpr int kDecodeClusterMax = 16;
// Policy of a call (DecodeOverrides::cluster; the environment PTXFMHA_DECODE_CLUSTER=0 / 1
// sets Off / Force for calls that leave it at Auto):
//   Auto   the cluster merge when choose_cluster_splits says so (below)
//   Off    never (the workspace path: split kernel + combine kernel)
//   Force  whenever the split count allows: the requested num_splits if 2 <= it <= the
//          cluster limit, else (automatic) the best split count <= the cluster limit
enum class DecodeClusterPolicy { Auto = 0, Off = 1, Force = 2 };
// The policy a call runs with: `requested` unless Auto, then the environment
// PTXFMHA_DECODE_CLUSTER (0: Off, 1: Force, auto: Auto), else Off (the library's default).
DecodeClusterPolicy decode_cluster_policy(DecodeClusterPolicy requested);
// The modelled time of s splits in tiles (choose_num_splits's model with the merge's own cost:
// merge_tiles when s > 1), and the best s <= max_s (no empty trailing split, the smallest on
// ties). Pure.
double decode_split_cost(int64_t units, int64_t kv_tiles, int64_t slots, int64_t s, double merge_tiles);
int best_num_splits(int64_t units, int64_t kv_tiles, int64_t slots, int64_t max_s, double merge_tiles);
constexpr double kDecodeCombineTiles = 2.0;         // the combine kernel, in tile times
// ... for the _e4m3_wg rows (64 packed rows per CTA: 4x the partial rows of the one-m-tile CTAs
// the 2.0 was fitted on, each e4m3 tile half the bytes). H200, 2026-12-04 (s15 r3): batch 64
// kv 1k at 128/8 heads x 4 tokens ran 67.5 us at the 2 splits 2.0 picks, 46.0 unsplit (3
// caches); 8.0 picks 1 there and the counts 2.0 picks on the other 111 of the 114 head-dim-64
// e4m3 cells timed at two or more counts (s15 r2 / r3).
constexpr double kDecodeCombineTilesE4m3Wg = 8.0;
// The cluster merge inside the split kernel, in tile times: an ESTIMATE (not measured): each
// CTA reads num_splits x 4 columns per item from its peers' shared memory (a few hundred ns
// per 8-split group) and no second launch.
constexpr double kDecodeClusterMergeTiles = 0.5;
// Auto policy, pure: 0 (workspace path) or the cluster's split count. ws_splits is the split
// count the workspace path would run (choose_num_splits or the min-waves policy); cluster_max
// the largest resident cluster (0 or 1: none).
//   ws_splits <= 1               0 (nothing to merge)
//   ws_splits <= cluster_max     ws_splits (the same splits without the combine kernel)
//   otherwise                    the best s <= cluster_max under the cluster merge's cost when
//                                that model time is <= the workspace plan's, else 0
int choose_cluster_splits(int64_t units, int64_t kv_tiles, int64_t slots, int ws_splits, int cluster_max);

// The "more, shorter CTAs" policy (an A/B lever of issue 17, DecodeOverrides::min_waves): the
// smallest s (no empty trailing split, s <= kv_tiles, s <= kDecodeMaxSplits) whose
// units * s CTAs fill at least min_waves waves of `slots`, else the largest such s; the
// choose_num_splits answer when that is larger. Rationale: split CTAs that all stream at the
// same rate end together only when the memory system serves them evenly; a late CTA holds the
// grid open while the others' slots idle, and the shorter the CTAs the shorter that tail.
int choose_num_splits_min_waves(int64_t units, int64_t kv_tiles, int64_t slots, int min_waves);

// The L2 promotion of the decode K/V tensor maps: 128 B (none beyond the 128-byte box rows;
// the whole line for the 64-byte e4m3 rows at head dim 64). The tensor maps' usual 256 B made
// each 128-byte row request cost a further L2 lookup: 1.25x the K/V sectors and 4-8% slower
// decode calls (ncu and bench, H200, 2026-12-02; bench/DECODE_NOTES.md, "L2 promotion").
// The environment PTXFMHA_DECODE_L2_PROMOTION = none, 64, 128 or 256 overrides it (A/B);
// read at each call.
CUtensorMapL2promotion decode_l2_promotion();

// log2 of the keys per K/V TMA box of a contiguous cache: 6 (one 64-key box per column block
// of a tile). The environment PTXFMHA_DECODE_BOX_ROWS = 16 or 32 overrides it (A/B: the
// kernels take 16- and 32-key boxes from pages of 16 / 32 keys already); read at each plan.
int decode_contig_box_shift();

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
  int heads_per_cta = 1;   // KV heads per split CTA (DecodePlanOptions)
  // The split row runs its cp.async producer: the row has one (DecodePlanOptions::cpasync_row),
  // the cache suits it (decode_cpasync_cache) and the call did not ask for TMA (no_cpasync); else
  // its tiles come through TMA. The one place the producer is decided: the split caps and floors
  // read it, the launch passes the cache's pointers (DP_K_PTR, which selects the producer in the
  // kernel) exactly when it holds, and the bench reports it.
  bool cpasync = false;
  // > 1: the _cl row runs with cluster dims (1, cluster, 1), cluster == num_splits: no
  // workspace (workspace_bytes 0), no combine kernel (combine_grid 0). 0: the workspace path.
  int cluster = 0;
  // Grids (plan_decode only): split kernel (heads_kv / heads_per_cta * m_groups, num_splits,
  // batch); combine
  // kernel ceil(out rows / combine_row->block_m) CTAs, 0 when num_splits == 1 (no combine).
  unsigned split_grid[3] = {0, 0, 0};
  unsigned combine_grid = 0;
  // > 0: an _ho row (chunks handed out at run time, plan_decode_handout): split_grid[1] = ho_ctas
  // CTAs per unit take the unit's num_splits chunks of split_keys keys from a uint32 counter
  // per unit (split_grid[0] * split_grid[2] of them at ws_counter_offset, zeroed before each
  // launch); the combine kernel always runs (num_splits partials, even 1).
  int ho_ctas = 0;
  uint64_t ws_counter_offset = 0;
  int64_t ho_counters() const { return ho_ctas > 0 ? int64_t(split_grid[0]) * split_grid[2] : 0; }
  int64_t split_ctas() const { return int64_t(split_grid[0]) * split_grid[1] * split_grid[2]; }
};

// What else shapes a plan (all 0: the plain ptxfmha_decode plan).
struct DecodePlanOptions {
  // > 0: the keys a split range must cover, counted from the band's start (a sliding window:
  // window_left + seqlen_q + 63, the 63 for the tile-aligned start; decode_attn.cpp). The
  // splits then cover min(max_seqlen_k, band_keys) keys in tiles instead of max_seqlen_k.
  int64_t band_keys = 0;
  int min_waves = 0;  // > 0: choose_num_splits_min_waves instead of the split model
  // > 0: the device's SM count (what the library passes); the automatic split count is then
  // choose_num_splits_bw over sms SMs x slots / sms resident CTAs with decode_cta_rate where
  // decode_plans_by_bandwidth says so (bf16 contiguous or in pages of >= 64 keys, e4m3 at head
  // dim 64); otherwise (0, or the other calls) choose_num_splits(slots).
  int64_t sms = 0;
  int kv_bytes = 2;  // bytes per cache element: 2 bf16, 1 e4m3
  int heads_per_cta = 1;  // KV heads per split CTA (the _h2 rows: 2; requires one m-group)
  bool wg_loop = false;   // the split row runs the warpgroup main loop (_wg): decode_cta_rate
  bool cpasync_row = false;  // the split row has the cp.async producer (decode_row_cpasync)
  bool no_cpasync = false;   // TMA even where cp.async suits (plan.cpasync false; DecodeOverrides::tma)
  // The cluster merge: the largest cluster the call's _cl row can keep resident (0: no _cl
  // row or none resident) and the policy.
  int cluster_max = 0;
  DecodeClusterPolicy cluster_policy = DecodeClusterPolicy::Auto;
};
// What a call's split row and device give its plan: sms, kv_bytes, heads_per_cta
// (decode_row_heads), wg_loop (decode_row_wg) and cpasync_row (decode_row_cpasync); the rest
// default. The launch path (decode_launch.cpp) adds the call's own options; the bench's offline
// replay uses it as is.
DecodePlanOptions decode_row_plan_options(const KernelInfo* row, int64_t sms, int kv_bytes);
// KV tiles the splits cover: ceil(min(max_seqlen_k, band_keys or max_seqlen_k) / 64).
int64_t decode_kv_tiles(const ptxfmha_decode_params& p, const DecodePlanOptions& o);

// Fills the plan's split sizes and workspace layout from the requested (0 = automatic) or
// chosen split count. Pure: `auto_splits` is what choose_num_splits gave (used when
// p.num_splits == 0). Requires a validated p.
void plan_decode_splits(const ptxfmha_decode_params& p, int auto_splits, DecodePlan* plan,
                        const DecodePlanOptions& o = DecodePlanOptions());

// The split model's count for a call of `units` split units (batch * heads_kv / heads_per_cta *
// m_groups) over `tiles` KV tiles, at most max_splits: choose_num_splits_bw(units, tiles, o.sms,
// slots / o.sms, decode_cta_rate, decode_bw_partials_tiles) where o.sms > 0 and
// decode_plans_by_bandwidth says so, else best_num_splits(units, tiles, slots, max_splits,
// decode_combine_tiles). slots = #SMs x resident split CTAs per SM.
int decode_model_splits(const ptxfmha_decode_params& p, int64_t units, int64_t tiles, int64_t slots,
                        const DecodePlanOptions& o, int64_t max_splits);

// The whole decode launch plan, pure (no driver call): the rows, the automatic split count
// (o.min_waves > 0: choose_num_splits_min_waves; else decode_model_splits at most
// min(decode_max_splits(tiles, o.kv_bytes), decode_rows_split_cap) splits, at least
// decode_rows_split_floor), plan_decode_splits, and both grids; then the
// cluster policy (o.cluster_max >= 2): Auto choose_cluster_splits (a requested num_splits:
// the cluster when 2 <= it <= cluster_max), Force as described at DecodeClusterPolicy; a
// cluster plan has cluster = num_splits, no workspace, no combine grid (the caller runs the
// _cl row). Requires a validated p and rows for p.head_dim.
void plan_decode(const ptxfmha_decode_params& p, const KernelInfo& split_row,
                 const KernelInfo& combine_row, int64_t slots, DecodePlan* plan,
                 const DecodePlanOptions& o = DecodePlanOptions());

// The hand-out chunks each CTA of an _ho row's plan takes on average: the environment
// PTXFMHA_DECODE_HO_CHUNKS (1..64), else kDecodeHoChunksPerCta; read at each plan.
constexpr int kDecodeHoChunksPerCta = 8;
int decode_ho_chunks_per_cta();
// An _ho row's plan from the plan plan_decode made for it (its num_splits: the CTAs per unit):
// the unit's keys in num_splits = min(tiles, ho_ctas x chunks_per_cta) chunks of whole tiles
// (plan_decode_splits), ho_ctas = min(the plan's splits, chunks) CTAs per unit, the partials'
// workspace (num_splits per row) and past it the counters (4 bytes per unit), the combine
// grid (always: the partials need it). Requires one m-group (<= 16 packed rows: the caller
// checks) and no cluster. Pure.
void plan_decode_handout(const ptxfmha_decode_params& p, int chunks_per_cta, const KernelInfo& combine_row,
                         DecodePlan* plan, const DecodePlanOptions& o = DecodePlanOptions());

// validate_decode_shape + acquire_device + the plan ptxfmha_decode would use for *p (kernel
// rows, num_splits, workspace layout). For tests, benchmarks and tools.
ptxfmha_status decode_plan(const ptxfmha_decode_params* p, DecodePlan* plan);

// ---- the launch path both entry points share (decode_launch.cpp) ---------------------------
// Internal options no public block exposes: the A/B levers of the benchmark and tests.
struct DecodeOverrides {
  const char* split_kernel = nullptr;  // a split row by name (it must fit the call: head dim,
                                       // cache type; a feature call needs a feature row)
  int min_waves = 0;                   // DecodePlanOptions::min_waves
  // The cluster merge policy (Auto: the environment PTXFMHA_DECODE_CLUSTER, else the plan's).
  // A named _cl split_kernel forces it (and fails when the split count exceeds the cluster
  // the device keeps resident); a named other row turns it off.
  DecodeClusterPolicy cluster = DecodeClusterPolicy::Auto;
  // The cp.async rows load a contiguous bf16 cache through TMA boxes, as every row did before
  // s30 (DecodePlanOptions::no_cpasync): the A/B of the two producers in one process.
  bool tma = false;
};

// One decode call after validation: the embedded ptxfmha_decode fields (causal canonical),
// then what ptxfmha_decode_attn adds.
struct DecodeCall {
  ptxfmha_decode_params base;
  int kv_bytes = 2;                 // 2 bf16, 1 e4m3
  uint32_t features = 0;            // kAttn* bits among kDecodeAttnFeatures (attn_kernel_abi.h)
  int32_t window_left = -1;         // canonical (attn.h canonical_window)
  int32_t window_right = -1;        // canonical, causal folded in
  float softcap = 0;
  const float* sink_logits = nullptr;
  const float* alibi_slopes = nullptr;
  const float* k_scale = nullptr;   // e4m3
  const float* v_scale = nullptr;
  int kv_scale_count = 0;
  DecodeOverrides overrides;
};
// The DecodeCall of a validated ptxfmha_decode block (no features, bf16).
DecodeCall decode_call_plain(const ptxfmha_decode_params& p);
// A named byte range [lo, hi) of one operand (hi == lo: absent).
struct DecodeRange {
  const char* name;
  uint64_t lo, hi;
};
// Every operand's byte range except the workspace, in the order q, k_cache, v_cache, o, lse,
// seqlens_k, block_table, sink_logits, alibi_slopes, k_scale, v_scale. Requires a validated
// call (the extents fit).
std::vector<DecodeRange> decode_call_ranges(const DecodeCall& c);
struct DecodeKernelParams;  // decode_abi.h
// Every field of a planned call's parameter block but the two tensor maps (which need the
// driver), over a block the caller zeroed: pointers, strides, the plan's grid facts, features,
// scales, and the cp.async producer's cache pointers (DP_K_PTR ...) exactly where plan.cpasync
// says the row runs it (0 keeps TMA: CPASYNC_MODE). ws_lo: the workspace's address.
void decode_fill_scalars(const DecodeCall& c, const DecodePlan& plan, uint64_t ws_lo, DecodeKernelParams* kp);
// Device, rows, plan, device checks, parameter block, launches (launch == false: only the
// workspace size into *ws_bytes). Requires a validated call.
ptxfmha_status decode_run(const DecodeCall& c, bool launch, uint64_t* ws_bytes, DecodePlan* plan_out = nullptr);

// ptxfmha_decode / ptxfmha_decode_attn (and their workspace sizes) with overrides: the bench's
// --ptxfmha_decode_kernels A/B and the tests of the levers.
// plan_out (optional): the plan the call runs (or would run).
ptxfmha_status decode_with_overrides(const ptxfmha_decode_params* p, const DecodeOverrides& o,
                                     bool launch, uint64_t* ws_bytes, DecodePlan* plan_out = nullptr);
// plan_out (optional): the plan the call runs (or would run), as decode_run fills it.
ptxfmha_status decode_attn_with_overrides(const ptxfmha_decode_attn_params* p, const DecodeOverrides& o,
                                          bool launch, uint64_t* ws_bytes, DecodePlan* plan_out = nullptr);
// Body of ptxfmha_decode_attn / ptxfmha_decode_attn_workspace_size (decode_attn.cpp).
ptxfmha_status decode_attn_run(const ptxfmha_decode_attn_params* user, bool launch, uint64_t* ws_bytes);
// Checks of the version-2 fields (the e4m3 cache) of a block that passed
// validate_decode_attn_shape, in this order:
//   INVALID_ARGUMENT      kv_dtype not PTXFMHA_KV_BF16 or PTXFMHA_KV_E4M3
//   bf16:  INVALID_ARGUMENT  k_scale or v_scale set, kv_scale_count != 0
//   e4m3:  NULL_POINTER      k_scale, v_scale
//          INVALID_ARGUMENT  kv_scale_count not 1 or heads_kv
//          MISALIGNED_POINTER k_scale, v_scale not 4-byte aligned
//          SIZE_OVERFLOW     a scale array's byte range wraps the address space
//          ALIASING          o or lse overlapping k_scale or v_scale
//   SIZE_OVERFLOW         window_left >= 0 and max_seqlen_k > 2^31 - 257 (the band's
//                         tiles index keys in 32 bits)
ptxfmha_status validate_decode_attn_kv(const ptxfmha_decode_attn_params& p);

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

// ---- the e4m3 (OCP FP8 E4M3) cache --------------------------------------------------------
// Exact value of an e4m3 byte (NaN for 0x7F / 0xFF; subnormals m * 2^-9).
float e4m3_to_float(uint8_t x);
// Round to nearest even, saturating to +-448 (the largest finite e4m3); NaN -> 0x7F.
uint8_t float_to_e4m3(float f);
// table[x] = bf16(e4m3_to_float(x) * scale) for the 256 codes: a cache widened through it costs a
// lookup per byte (exact for the power-of-two scales the references use; NaN stays NaN).
void e4m3_bf16_table(float scale, uint16_t table[256]);
// The float64 reference of ptxfmha_decode_attn over an e4m3 cache: the problem p as for
// reference_attn (k / v strides in elements = bytes), the caches as e4m3 bytes, K = k_scale[s]
// * e4m3, V = v_scale[s] * e4m3 with s = 0 (one scale) or the KV head (heads_kv scales).
// Computed per KV head as reference_attn on the cache's values (every e4m3 value is a bf16
// value, so the copy is exact) with softmax_scale * k_scale[s] (the scores, softcap, ALiBi
// and sinks are those of the dequantised K), and O times v_scale[s]: float64 from the
// dequantised cache; with_logit_mag: logit_mag too (the LSE of |q| |k| scale over the same keys,
// no features: the scale of the e4m3 products' error bound, ptxfmha.h; a second, LSE-only pass),
// else out->logit_mag is left empty. Throws std::invalid_argument as reference_attn does, and
// for a scale count other than 1 or heads_kv.
void reference_attn_e4m3(const RefAttnProblem& p, const uint16_t* q, const uint8_t* k_cache,
                         const uint8_t* v_cache, const std::vector<float>& k_scale,
                         const std::vector<float>& v_scale, bool with_logit_mag, RefAttnResult* out);

}  // namespace ptxfmha
