// Kernel ABI of the feature-carrying forward kernels (issue 14): the parameter block, the
// feature bits and the rules the sm_90a feature rows fmha_fwd_d{64,128,256}_{ext,paged}_sm90a
// follow (body: ptx/body/sm90_fwd/, "Serving features" in its kernel.ptxh; offsets:
// ptx/include/fwd_params.ptxh, tied to this struct by tests/test_cpu_kernel_table.cpp).
//
// ---- Variants (the plain case keeps its instructions) -----------------------------------
// The plain kernels fmha_fwd_d{64,128,256}_sm90a keep FwdKernelParams (640 bytes) and their
// code (tools/sass-diff.sh: identical SASS). Features run in separate kernel-table rows of
// the same body (ptx/manifest/sm90_fwd.h, column VARIANT), picked by the host from the bits:
//   fmha_fwd_d<D>_ext_sm90a    varlen Q/K, seqused_k, window, softcap, sinks, ALiBi
//   fmha_fwd_d<D>_paged_sm90a  the same plus paged K/V (the K/V producers walk the block
//                              table; a call without a table runs the contiguous path)
// Inside them the features are runtime flags (AttnKernelParams::features), uniform per CTA:
// a predicated branch per KV tile or work tile, never per element:
//   window  -> the KV tile range of each m-block (tiles outside are never loaded) and the
//              mask of the tiles that cross a band edge
//   softcap -> FMUL, MUFU.TANH, FMUL per score (s x softcap_pre, tanh, x softcap_post); the
//              sm90a rows skip the last FMUL: they keep S in units of tanh and fold
//              softcap_post into the softmax's scale (and the ALiBi slope: x softcap_pre)
//   alibi   -> FADD + FFMA per score: s += (-slope / scale) |d - j|
//   sinks   -> only in the epilogue (m, l merged with the sink once), never in the loop
//   varlen  -> per-work-tile loads of the sequence's offsets (clamped), packed TMA rows,
//              the epilogue's row predicate (per-row stores where a warp's 16 rows reach
//              past the sequence)
// KernelInfo::features says what a row implements; ptxfmha_attn takes the row with the fewest
// extra features that covers the call (attn.cpp). The same rows run a plain call (features 0)
// through fwd_with_row: the "features off" path that the tests and the bench A/B compare.
// sm_100a: fmha_fwd_d<D>_ext_sm100a on the two-tile kernels of issue 13 (ptx/body/sm100_fwd/
// features.ptxh): every feature, paged K/V and seqused_k as runtime switches of the same row (a
// call without a block table runs the contiguous path; the V tail fix below is the TMA warp's).
//
// ---- Work tiles for variable length -----------------------------------------------------
// Tile = (m-block, query head, sequence), m-block size BLOCK_M of the row. The host cannot
// read cu_seqlens_q, so it passes an upper bound of the tile count,
//   total_tiles = heads_q * min(floor((total_q + batch * (BLOCK_M - 1)) / BLOCK_M),
//                               batch * ceil(max_seqlen_q / BLOCK_M))
// (>= sum_b ceil(len_q(b) / BLOCK_M) for valid metadata), and the kernel's Q producer maps a
// linear tile index t to (b, m, h) with a cursor over the sequences' tile counts that only
// moves forward (a CTA's tiles come in increasing order, static or from the counter): one
// cu_seqlens_q load per sequence and CTA; t past the last sequence ends the CTA's loop.
// Inside a sequence: m-block-major, heads fastest, m-blocks reversed when the window has a
// right bound (causal: heaviest first), each sequence with its own m_pad (m-blocks end at the
// sequence's last row, as for fixed lengths). Fixed-length Q keeps the plain tile order.
//
// ---- Addressing -------------------------------------------------------------------------
//   varlen Q/O: tma_q / tma_o over packed [1, total_q, heads_q, D] (batch coordinate 0),
//               row coordinate start_q(b) + m-block row. Loads past the sequence read other
//               sequences' rows or TMA zero fill (never stored). A warp's 16 O rows go out by
//               TMA only when all 16 are < len_q(b); otherwise the warp copies its staged rows
//               to global memory per row, rows < len_q(b) only: no store touches another
//               sequence's rows. LSE row r of head h at lse_ptr + 4 * (h * lse_head_stride +
//               qbase * lse_batch_stride + r) with qbase = start_q(b) (varlen; stride 1) or b.
//   varlen K/V: tma_k / tma_v over packed [1, total_k, heads_kv, D], row start_k(b) + key.
//               Keys >= len_k(b) are masked to -inf; V rows past len_k(b) meet P = 0. Those
//               rows are other sequences' keys or zero fill (finite), except with seqused_k or
//               paged K/V, where they may hold anything: then the V producer loads the last
//               tile onto its own barrier (v_land), zeroes the rows past len_k in shared memory
//               and only then releases the tile to the consumers.
//   paged K/V:  tma_k / tma_v 4-D {D, page_size, heads_kv, num_pages} (decode's layout), box
//               {64, 2^box_shift} rows, box_shift = min(page_shift, log2 BLOCK_N): box k of
//               the tile at key n0 + k * box_rows is row (key & (page_size - 1)) of page
//               block_table[b * max_blocks_per_seq + (key >> page_shift)]; only boxes with
//               keys are issued (one expect_tx for their bytes).
//   window:     the kernel's form (host: attn.cpp): window_left = the canonical left bound or
//               INT32_MAX (unbounded), window_right1 = the canonical right bound + 1 (causal:
//               1) or INT32_MAX; the kernel adds them with saturation. For the m-block rows
//               [ra, rb] that exist (d(i) = i + len_k - len_q):
//                 first key  kb = max(0, d(ra) - window_left)
//                 last key   ke = min(len_k, d(rb) + window_right1)        (exclusive)
//               KV tiles [kb / BLOCK_N, ceil(ke / BLOCK_N)) are visited, the others never
//               loaded (cost grows with the window, not with len_k); none when kb >= ke (O =
//               0, LSE = -inf or the sink). fwd_plan.h attn_kv_tile_range is the host's copy of
//               this rule (CPU-tested against the reference's visibility).
//   scores:     the kernels keep S in units of Q K^T (their softmax FFMA applies scale_log2 =
//               softmax_scale * log2 e), so: softcap_pre = softmax_scale / softcap,
//               softcap_post = softcap / softmax_scale; alibi_mul = -1 / softmax_scale; a sink
//               logit t (natural units) enters as t * log2 e.
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
// The first 640 bytes are FwdKernelParams byte for byte (the body shared with the plain
// variant reads the same offsets), with these meanings where features are on:
//   seqlen_q      fixed Q: seqlen_q; varlen Q: max_seqlen_q
//   seqlen_k      fixed / paged K: seqlen_k (the cap); varlen K: max_seqlen_k
//   causal        1 when the window has a right bound (tile order only: m-blocks heaviest
//                 first); the band itself is window_left / window_right1
//   num_m_blocks  ceil(seqlen_q / BLOCK_M) (fixed Q; unused for varlen Q)
//   total_tiles   fixed Q: num_m_blocks * heads_q * batch; varlen Q: the upper bound above
//   scale_log2    softmax_scale * log2 e (always; the score modifiers work in its units)
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
  int32_t window_left;         // 700: canonical left bound, INT32_MAX = unbounded
  int32_t window_right1;       // 704: canonical right bound + 1 (causal: 1), INT32_MAX = unbounded
  float softcap_pre;           // 708: softmax_scale / softcap (argument of tanh), 0 when off
  float softcap_post;          // 712: softcap / softmax_scale (tanh -> units of Q K^T)
  int32_t page_shift;          // 716: log2(page_size), 0 when not paged
  int32_t max_blocks_per_seq;  // 720: block_table columns, 0 when not paged
  int32_t num_pages;           // 724: pages in the pool, 0 when not paged
  int32_t lse_head_stride;     // 728: LSE elements between heads (fixed: seqlen_q; varlen: total_q)
  int32_t lse_batch_stride;    // 732: LSE elements per qbase unit (fixed: heads_q * seqlen_q
                               //      per sequence; varlen: 1 per packed row)
  int32_t box_shift;           // 736: log2 rows per K/V TMA box (paged: min(page_shift, log2 BLOCK_N))
  float alibi_mul;             // 740: -1 / softmax_scale (slope -> units of Q K^T)
  int64_t o_seqbase_stride;    // 744: O elements per qbase unit (fixed: o_batch_stride;
                               //      varlen: o_seq_stride): the epilogue's per-row stores
  int32_t reserved[4];         // 752: pads to 768 bytes
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
static_assert(offsetof(AttnKernelParams, window_right1) == 704, "abi");
static_assert(offsetof(AttnKernelParams, softcap_pre) == 708, "abi");
static_assert(offsetof(AttnKernelParams, softcap_post) == 712, "abi");
static_assert(offsetof(AttnKernelParams, page_shift) == 716, "abi");
static_assert(offsetof(AttnKernelParams, max_blocks_per_seq) == 720, "abi");
static_assert(offsetof(AttnKernelParams, num_pages) == 724, "abi");
static_assert(offsetof(AttnKernelParams, lse_head_stride) == 728, "abi");
static_assert(offsetof(AttnKernelParams, lse_batch_stride) == 732, "abi");
static_assert(offsetof(AttnKernelParams, box_shift) == 736, "abi");
static_assert(offsetof(AttnKernelParams, alibi_mul) == 740, "abi");
static_assert(offsetof(AttnKernelParams, o_seqbase_stride) == 744, "abi");
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
