// Kernel ABI of the feature-carrying forward kernels (issue 14, phase 2). Not used by any
// kernel yet: this header fixes the parameter block, the feature bits and the rules every
// phase-2 kernel follows; host/src/attn.cpp already computes the feature bits and the
// canonical window with it.
//
// ---- Variants (the plain case keeps its instructions) -----------------------------------
// The plain kernels fmha_fwd_d{64,128,256}_sm90a keep FwdKernelParams (640 bytes) and their
// code. Features run in separate kernel-table rows, picked by the host from the feature bits:
//   fmha_fwd_d<D>_ext_sm90a    varlen Q/K, seqused_k, window, softcap, sinks, ALiBi;
//                              compile-time KERNEL_PAGED 0
//   fmha_fwd_d<D>_paged_sm90a  the same plus paged K/V (compile-time KERNEL_PAGED 1: the K/V
//                              producer walks the block table)
// Inside an ext kernel the other features are runtime flags (AttnKernelParams::features),
// uniform per CTA, so a branch costs a predicated jump per tile, not per element:
//   window  -> the KV tile range of each m-block and the mask of its two edge tiles
//   softcap -> one tanh.approx.f32 + two FMULs per score (S * softcap_pre, tanh, * softcap_post)
//   alibi   -> one FFMA per score: s += slope_log2 * |d - j| (slope_log2 = -slope * log2 e)
//   sinks   -> only at the end of a row (m, l merged with the sink once), never in the loop
//   varlen  -> per-tile start/len loads (clamped, below) and the epilogue's row predicate
// A KernelInfo field `features` (bitmask below) says what a row implements; the host picks
// the row with the fewest extra features that covers the call (plain row when bits == 0).
// sm_100a gets the same pair of variants on the two-tile kernels of issue 8.
//
// ---- Work tiles for variable length -----------------------------------------------------
// Tile = (m-block, query head, sequence), m-block size BLOCK_M of the row. The host cannot
// read cu_seqlens_q, so it passes an upper bound of the tile count,
//   total_tiles = heads_q * (ceil(total_q / BLOCK_M) + batch)      (>= sum_b ceil(len_q(b)/BLOCK_M))
// and the kernel maps a linear tile index t to (b, m, h) with a prefix sum over sequences
// computed on the device: the Q-producer warp scans ceil(len_q(b) / BLOCK_M) * heads_q over
// 32 sequences per step (one warp-wide inclusive scan + a ballot), keeping its position
// between tiles because a CTA's tiles come in increasing order; t past the last sequence
// ends the CTA's loop. Causal/window tiles go heaviest first inside a sequence (m-blocks in
// decreasing order, as today's head_group order does for fixed lengths). Fixed-length Q uses
// the same path with len_q(b) = seqlen_q (no scan needed: num_m_blocks is exact).
//
// ---- Addressing -------------------------------------------------------------------------
//   varlen Q/O: tma_q / tma_o over packed [1, total_q, heads_q, D] (batch coordinate 0),
//               row coordinate start_q(b) + m0. Loads past the sequence read the next
//               sequence's rows or TMA zero fill (never used). The epilogue stores a warp's
//               16 rows with TMA only when all 16 are < len_q(b), else per row with
//               st.global (o_ptr + row * o_seq_stride + h * o_head_stride), row < len_q(b):
//               no store may touch another sequence's rows. LSE row r of head h at
//               lse_ptr + 4 * (h * lse_head_stride + b * lse_batch_stride + row0(b) + i).
//   varlen K/V: tma_k / tma_v over packed [1, total_k, heads_kv, D], row start_k(b) + n0;
//               keys >= len_k(b) are masked to -inf and V rows past len_k(b) meet P = 0
//               (zero the V tail in shared memory, as decode's ZERO_V_TAIL, because the
//               packed neighbour rows are finite but the next tensor's may not be).
//   paged K/V:  tma_k / tma_v 4-D {D, page_size, heads_kv, num_pages} (decode's layout),
//               box {64, box_rows, 1, 1}, box_rows = min(page_size, BLOCK_N) = 1 << box_shift.
//               A KV tile of BLOCK_N keys is BLOCK_N / box_rows boxes; box k of the tile at
//               key n0 + k * box_rows has page id block_table[b * max_blocks_per_seq +
//               (n0 + k * box_rows) >> page_shift] and row (n0 + k * box_rows) & (page_size - 1).
//               page_size >= BLOCK_N: one box per tile (one table entry per tile); smaller
//               pages: several boxes, all counted into one expect_tx. The producer warp's
//               lanes cache 32 consecutive table entries and shuffle them out (as
//               ptx/include/decode_split.ptxh's PAGE_PREFETCH / PAGE_LOOKUP do).
//   window:     for the m-block rows [m0, m1) of sequence b (d(i) = i + len_k - len_q):
//                 first key  kb = window_left  < 0 ? 0     : max(0, d(m0) - window_left)
//                 last key   ke = window_right < 0 ? len_k : min(len_k, d(m1 - 1) + window_right + 1)
//               KV tiles [kb / BLOCK_N, ceil(ke / BLOCK_N)) are visited, the others never
//               loaded (cost grows with the window, not with len_k); producer and consumers
//               compute the same range. A tile needs the per-element mask only when it
//               crosses a band edge: n0 < d(m1 - 1) - window_left or n1 - 1 > d(m0) +
//               window_right (or crosses len_k). An empty range writes O = 0 and LSE = -inf
//               (or the sink).
//
// ---- Clamping: device metadata never causes an out-of-bounds access ----------------------
//   start_q = min(max(cu_seqlens_q[b], 0), total_q); end_q = min(max(cu_seqlens_q[b+1], start_q), total_q)
//   len_q   = min(end_q - start_q, max_seqlen_q)                 (K likewise with total_k /
//                                                                 max_seqlen_k)
//   len_k   = min(max(seqused_k[b], 0), cap_k(b))
//   pages   : only entries [0, ceil(len_k / page_size)) of row b are read, b < batch, so the
//             table read stays inside batch * max_blocks_per_seq; an id outside
//             [0, num_pages) is a TMA coordinate outside the tensor map -> zero fill
//   sinks / slopes: index h < heads_q only.
// cu_seqlens reads are at b and b + 1 < batch + 1. With these, every TMA coordinate and
// every st.global address is inside the tensors the host validated, whatever the arrays
// hold. (Overlapping sequences from decreasing offsets are clamped to empty or in-bounds
// ranges; two sequences may then write the same rows, which is in bounds but racy: the
// result of invalid metadata is unspecified, never a fault.)
#pragma once
#include <cstddef>
#include <cstdint>

#include "decode_abi.h"
#include "kernel_abi.h"

namespace ptxfmha {

// Feature bits: AttnKernelParams::features, KernelInfo::features (phase 2), and the host's
// dispatch (attn.cpp attn_features()). Causal is not a feature (plain kernels have it).
enum AttnFeature : uint32_t {
  kAttnVarlenQ = 1u << 0,    // cu_seqlens_q: packed Q / O / LSE
  kAttnVarlenK = 1u << 1,    // cu_seqlens_k: packed K / V
  kAttnPagedKV = 1u << 2,    // block_table: paged K / V
  kAttnSequsedK = 1u << 3,   // seqused_k: per-sequence key count
  kAttnWindow = 1u << 4,     // window_left >= 0 or window_right >= 1 (after canonicalisation)
  kAttnSoftcap = 1u << 5,    // softcap > 0
  kAttnSinks = 1u << 6,      // sink_logits
  kAttnAlibi = 1u << 7,      // alibi_slopes
};
constexpr uint32_t kAttnAllFeatures = 0xffu;
// Features of decode (its cache is paged / ragged natively): only these four are new.
constexpr uint32_t kDecodeAttnFeatures = kAttnWindow | kAttnSoftcap | kAttnSinks | kAttnAlibi;

// Parameter block of the ext / paged forward kernels: `.param .align 64 .b8 params[768]`.
// The first 640 bytes are FwdKernelParams byte for byte (a kernel body shared with the
// plain variant reads the same offsets), with these meanings where features are on:
//   seqlen_q      fixed Q: seqlen_q; varlen Q: max_seqlen_q
//   seqlen_k      fixed / paged K: seqlen_k (the cap); varlen K: max_seqlen_k
//   causal        1 when the canonical window_right is 0 and window_left is -1 (plain causal);
//                 0 otherwise (the window fields below then hold the band)
//   num_m_blocks  ceil(max query length / BLOCK_M)
//   total_tiles   fixed Q: num_m_blocks * heads_q * batch; varlen Q: the upper bound above
//   scale_log2    softmax_scale * log2 e (no softcap); with softcap: unused, see softcap_*
// then the extension (offsets from the start of the block):
struct alignas(64) AttnKernelParams {
  FwdKernelParams base;        //   0: plain forward block (640 bytes)
  uint64_t cu_seqlens_q_ptr;   // 640: int32 [batch + 1], 0 = fixed Q
  uint64_t cu_seqlens_k_ptr;   // 648: int32 [batch + 1], 0 = fixed / paged K
  uint64_t seqused_k_ptr;      // 656: int32 [batch], 0 = none
  uint64_t block_table_ptr;    // 664: int32 [batch, max_blocks_per_seq], 0 = not paged
  uint64_t sink_logits_ptr;    // 672: fp32 [heads_q], 0 = none (natural-log units)
  uint64_t alibi_slopes_ptr;   // 680: fp32 [heads_q], 0 = none
  uint32_t features;           // 688: AttnFeature bits of this call
  int32_t total_q;             // 692: varlen Q: rows of packed Q / O
  int32_t total_k;             // 696: varlen K: rows of packed K / V
  int32_t window_left;         // 700: canonical (-1 = unbounded; < max key length)
  int32_t window_right;        // 704: canonical, causal folded in (-1 = unbounded; 0 = diagonal)
  float softcap_pre;           // 708: softmax_scale / softcap (argument of tanh), 0 when off
  float softcap_post_log2;     // 712: softcap * log2 e (tanh result -> log2-domain score)
  int32_t page_shift;          // 716: log2(page_size), 0 when not paged
  int32_t max_blocks_per_seq;  // 720: block_table columns, 0 when not paged
  int32_t num_pages;           // 724: pages in the pool, 0 when not paged
  int32_t lse_head_stride;     // 728: LSE elements between heads (fixed: seqlen_q; varlen: total_q)
  int32_t lse_batch_stride;    // 732: LSE elements between sequences (fixed: heads_q * seqlen_q; varlen: 0)
  int32_t box_shift;           // 736: log2 rows per K/V TMA box (paged: min(page_shift, log2 BLOCK_N))
  int32_t reserved[7];         // 740: pads to 768 bytes
};

static_assert(sizeof(FwdKernelParams) == 640, "abi");
static_assert(offsetof(AttnKernelParams, base) == 0, "abi");
static_assert(offsetof(AttnKernelParams, cu_seqlens_q_ptr) == 640, "abi");
static_assert(offsetof(AttnKernelParams, cu_seqlens_k_ptr) == 648, "abi");
static_assert(offsetof(AttnKernelParams, seqused_k_ptr) == 656, "abi");
static_assert(offsetof(AttnKernelParams, block_table_ptr) == 664, "abi");
static_assert(offsetof(AttnKernelParams, sink_logits_ptr) == 672, "abi");
static_assert(offsetof(AttnKernelParams, alibi_slopes_ptr) == 680, "abi");
static_assert(offsetof(AttnKernelParams, features) == 688, "abi");
static_assert(offsetof(AttnKernelParams, total_q) == 692, "abi");
static_assert(offsetof(AttnKernelParams, total_k) == 696, "abi");
static_assert(offsetof(AttnKernelParams, window_left) == 700, "abi");
static_assert(offsetof(AttnKernelParams, window_right) == 704, "abi");
static_assert(offsetof(AttnKernelParams, softcap_pre) == 708, "abi");
static_assert(offsetof(AttnKernelParams, softcap_post_log2) == 712, "abi");
static_assert(offsetof(AttnKernelParams, page_shift) == 716, "abi");
static_assert(offsetof(AttnKernelParams, max_blocks_per_seq) == 720, "abi");
static_assert(offsetof(AttnKernelParams, num_pages) == 724, "abi");
static_assert(offsetof(AttnKernelParams, lse_head_stride) == 728, "abi");
static_assert(offsetof(AttnKernelParams, lse_batch_stride) == 732, "abi");
static_assert(offsetof(AttnKernelParams, box_shift) == 736, "abi");
static_assert(sizeof(AttnKernelParams) == 768, "abi");

// Decode: DecodeKernelParams (512 bytes, decode_abi.h) carries the four decode features from
// byte 424 on (sink_logits_ptr, alibi_slopes_ptr, features, window_left, window_right,
// softcap_pre, softcap_post_log2), then the e4m3 cache's scales. The _attn split kernels
// apply window / softcap / ALiBi per 16-key sub-block (a split whose key range misses the band
// of all its rows writes an empty partial: LSE -inf); the sink joins once, in the _sink combine
// kernel (or the split kernel's direct epilogue when num_splits == 1), so partials stay
// sink-free.
constexpr std::size_t kDecodeAttnExtOffset = 424;
static_assert(offsetof(DecodeKernelParams, sink_logits_ptr) == kDecodeAttnExtOffset, "abi");
static_assert(offsetof(DecodeKernelParams, softcap_post_log2) == kDecodeAttnExtOffset + 32, "abi");

}  // namespace ptxfmha
