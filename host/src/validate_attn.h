// Argument validation of the extensible attention API (ptxfmha_attn, ptxfmha_decode_attn),
// run before anything touches the device. The rules are the ones ptxfmha.h lists for
// ptxfmha_attn_params; each failure records a message naming the field (runtime.h fail())
// and returns its status; nothing else is written.
//
// Checks of validate_attn_shape, in this order (the first failing one is reported):
//   NULL_POINTER          q, k, v, o
//   INVALID_SIZE          batch, heads_q, heads_kv, head_dim <= 0
//   Q lengths             fixed:  INVALID_SIZE seqlen_q <= 0; INVALID_ARGUMENT max_seqlen_q
//                                 or total_q != 0 ("used only with cu_seqlens_q")
//                         varlen: INVALID_ARGUMENT seqlen_q != 0; INVALID_SIZE max_seqlen_q
//                                 or total_q < 0; INVALID_ARGUMENT max_seqlen_q > total_q,
//                                 total_q > batch * max_seqlen_q
//   K lengths             INVALID_ARGUMENT cu_seqlens_k together with block_table; then as
//                         for Q with seqlen_k / max_seqlen_k / total_k / cu_seqlens_k
//   INVALID_PAGE_TABLE    (block_table) page_size not a power of two in [16, 256],
//                         max_blocks_per_seq < 1, num_pages < 1,
//                         max_blocks_per_seq * page_size < seqlen_k
//   INVALID_ARGUMENT      (no block_table) page_size, max_blocks_per_seq or num_pages != 0
//   GQA_RATIO             heads_q % heads_kv != 0
//   MISALIGNED_POINTER    q, k, v, o, lse not 16-byte aligned; cu_seqlens_q, cu_seqlens_k,
//                         seqused_k, block_table, sink_logits, alibi_slopes not 4-byte
//   INVALID_SCALE         softmax_scale NaN, infinite or <= 0
//   INVALID_ARGUMENT      causal not 0 or 1; window_left or window_right < -1; causal with
//                         window_right > 0; softcap NaN, infinite or < 0
//   SIZE_OVERFLOW         heads_q or batch > 65535; query rows (batch * heads_q * seqlen_q,
//                         heads_q * total_q) >= 2^31; seqlen_q, seqlen_k, max_seqlen_*,
//                         total_* > 2^31 - 257 (kernels index keys and rows in 32 bits and
//                         round up to tiles); batch * max_blocks_per_seq >= 2^31
//   INVALID_STRIDE        varlen: q/o (k/v) batch stride != 0 (the packed layout has none)
//   INVALID_STRIDE / SIZE_OVERFLOW  validate_tensor of q, k, v, o in their layout (fixed,
//                         packed [1, total, heads, D], paged [num_pages, page_size, heads_kv, D]);
//                         a packed tensor with 0 rows is not checked (nothing is read)
//   SIZE_OVERFLOW         an array's byte range (lse, metadata, sinks, slopes) wraps the
//                         address space
//   ALIASING              o overlaps q, k, v, lse, cu_seqlens_q, cu_seqlens_k, seqused_k,
//                         block_table, sink_logits or alibi_slopes; lse overlaps any of those
// Device checks (check_attn_device_ranges, with the context current): every pointer range
// is memory CUDA knows (runtime.h check_device_range) -> INVALID_ARGUMENT naming it.
//
// validate_decode_attn_shape: validate_decode_shape (decode.h) on the embedded decode
// fields, then INVALID_ARGUMENT reserved != 0; MISALIGNED_POINTER sink_logits, alibi_slopes
// not 4-byte aligned; the window / causal / softcap rows above; ALIASING o or lse overlapping
// sink_logits or alibi_slopes.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "ptxfmha/ptxfmha.h"
#include "validate.h"

namespace ptxfmha {

constexpr int32_t kAttnMaxLen = INT32_MAX - 256;  // longest sequence / packed tensor (rows)

// ---- struct_size versioning -------------------------------------------------------------
// The library's defaults for a whole block (struct_size = sizeof, window -1 / -1, the rest 0).
void attn_params_defaults(ptxfmha_attn_params* p);
void decode_attn_params_defaults(ptxfmha_decode_attn_params* p);
// Copies the caller's block into *out (the library's full layout): NULL_POINTER for NULL;
// INVALID_ARGUMENT for struct_size below the V1 size, above 64 KiB, or above sizeof with a
// non-zero byte past the known fields (the message names the byte offset). Fields the
// caller's version lacks keep their defaults; out->struct_size = sizeof(*out).
ptxfmha_status load_attn_params(const ptxfmha_attn_params* user, ptxfmha_attn_params* out);
ptxfmha_status load_decode_attn_params(const ptxfmha_decode_attn_params* user,
                                       ptxfmha_decode_attn_params* out);

// ---- shapes -----------------------------------------------------------------------------
bool attn_varlen_q(const ptxfmha_attn_params& p);
bool attn_varlen_k(const ptxfmha_attn_params& p);
bool attn_paged(const ptxfmha_attn_params& p);
// Upper bounds of len_q(b) / len_k(b): seqlen_q or max_seqlen_q, seqlen_k or max_seqlen_k.
int32_t attn_max_len_q(const ptxfmha_attn_params& p);
int32_t attn_max_len_k(const ptxfmha_attn_params& p);
// Output rows: batch * seqlen_q (fixed) or total_q (varlen); LSE has heads_q of each.
int64_t attn_query_rows(const ptxfmha_attn_params& p);

// Tensor views (elem_bytes 2) in the layouts of ptxfmha.h: fixed [batch, seq, heads, D],
// packed [1, total, heads, D], paged [num_pages, page_size, heads_kv, D].
TensorView attn_q_view(const ptxfmha_attn_params& p);
TensorView attn_k_view(const ptxfmha_attn_params& p);
TensorView attn_v_view(const ptxfmha_attn_params& p);
TensorView attn_o_view(const ptxfmha_attn_params& p);

// A named byte range [lo, hi) of one argument; hi == lo when absent or empty.
struct ByteRange {
  const char* name;
  uint64_t lo, hi;
};
// Every argument's byte range, in the order q, k, v, o, lse, cu_seqlens_q, cu_seqlens_k,
// seqused_k, block_table, sink_logits, alibi_slopes. Requires a validated p (extents fit).
std::vector<ByteRange> attn_byte_ranges(const ptxfmha_attn_params& p);

ptxfmha_status validate_attn_shape(const ptxfmha_attn_params& p);
// check_device_range on every non-empty range of attn_byte_ranges (context current).
ptxfmha_status check_attn_device_ranges(const ptxfmha_attn_params& p);

// ---- decode -----------------------------------------------------------------------------
// The ptxfmha_decode_params part of a decode block (same fields, same values).
ptxfmha_decode_params decode_attn_base(const ptxfmha_decode_attn_params& p);
ptxfmha_status validate_decode_attn_shape(const ptxfmha_decode_attn_params& p);
// Byte ranges of sink_logits and alibi_slopes ([heads_q] fp32 each).
std::vector<ByteRange> decode_attn_feature_ranges(const ptxfmha_decode_attn_params& p);
// Every argument's byte range except the workspace: q, k_cache, v_cache, o, lse, seqlens_k,
// block_table, sink_logits, alibi_slopes. Requires a validated p.
std::vector<ByteRange> decode_attn_byte_ranges(const ptxfmha_decode_attn_params& p);

// The Q-side or K-side length rules of ptxfmha_attn_params (also ptxfmha_bwd's): fixed (varlen
// false): INVALID_SIZE seqlen <= 0, INVALID_ARGUMENT max_len or total != 0; varlen:
// INVALID_ARGUMENT seqlen != 0, INVALID_SIZE max_len or total < 0, INVALID_ARGUMENT max_len >
// total or total > batch * max_len. The names are the fields' for the messages.
ptxfmha_status check_lengths(bool varlen, const char* cu_name, int32_t batch, int32_t seqlen,
                             const char* seqlen_name, int32_t max_len, const char* max_name,
                             int32_t total, const char* total_name);

// SIZE_OVERFLOW for the first length above kAttnMaxLen (named).
ptxfmha_status check_max_lens(std::initializer_list<NamedSize> lens);
// INVALID_STRIDE for the first packed tensor whose batch stride is not 0 (named, with the
// cu_seqlens array that packs it).
struct PackedBatchStride {
  bool packed;
  int64_t stride;
  const char* name;
  const char* cu;
};
ptxfmha_status check_packed_batch_strides(std::initializer_list<PackedBatchStride> strides);

// Window / causal / softcap rules shared by both entry points (INVALID_ARGUMENT).
ptxfmha_status validate_window_softcap(int32_t causal, int32_t window_left, int32_t window_right,
                                       float softcap);

}  // namespace ptxfmha
