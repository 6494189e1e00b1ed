// Kernel parameter block ABI of the decode kernels (split kernel and combine kernel), sm90a and sm100a (same bodies).
//
// Both kernels take exactly one by-value parameter: `.param .align 64 .b8 dparams[640]`.
// The PTX side names the same offsets in ptx/include/decode_params.ptxh; tests/test_cpu_decode_abi.cpp
// parses that file and checks each #define against offsetof() here, and checks the .param
// size of every decode kernel against sizeof(DecodeKernelParams). Offsets and sizes in bytes.
#pragma once
#include <cuda.h>

#include <cstddef>
#include <cstdint>

namespace ptxfmha {

struct alignas(64) DecodeKernelParams {
  // 4-D {head_dim, rows, heads_kv, pages} over the K (V) cache, bf16, box {64, box_rows, 1, 1},
  // 128-byte swizzle, zero fill out of bounds. Paged: rows = page_size, pages = num_pages.
  // Contiguous: rows = max_seqlen_k, pages = batch (sequence b is "page" b).
  CUtensorMap tma_k;
  CUtensorMap tma_v;
  uint64_t q_ptr;            // bf16 Q
  uint64_t o_ptr;            // bf16 O
  uint64_t lse_ptr;          // fp32 LSE [batch, heads_q, seqlen_q], 0 = not written
  uint64_t seqlens_ptr;      // int32 [batch], 0 = every sequence has max_seqlen_k keys
  uint64_t block_table_ptr;  // int32 [batch, max_blocks_per_seq], 0 = contiguous cache
  uint64_t ws_o_ptr;         // fp32 partial O [rows][num_splits][head_dim], 0 when num_splits == 1
  uint64_t ws_lse_ptr;       // fp32 partial LSE (log2 domain) [rows][num_splits]
  int64_t q_batch_stride;    // elements
  int64_t q_seq_stride;
  int64_t q_head_stride;
  int64_t o_batch_stride;
  int64_t o_seq_stride;
  int64_t o_head_stride;
  int32_t batch;
  int32_t seqlen_q;          // 1..8
  int32_t max_seqlen_k;
  int32_t heads_q;
  int32_t heads_kv;
  int32_t gqa_ratio;         // heads_q / heads_kv
  int32_t page_shift;        // log2(page_size) when paged, 0 when contiguous
  int32_t max_blocks_per_seq;  // block table columns (paged), 0 when contiguous
  int32_t box_shift;         // log2(keys per TMA box): 4, 5 or 6 (box_rows = 16, 32, 64)
  int32_t num_splits;        // KV chunks per sequence (grid.y)
  int32_t split_keys;        // keys per chunk, a multiple of 64
  int32_t causal;            // 0 or 1, bottom-right aligned
  float scale_log2;          // softmax_scale * log2(e)
  int32_t m_groups;          // ceil(seqlen_q * gqa_ratio / 64): CTAs per (kv head, split, batch)
  int32_t packed_rows;       // seqlen_q * gqa_ratio: query rows that share one KV head
  int32_t combine_rows;      // batch * heads_q * seqlen_q (rows the combine kernel merges)
  // Serving features: read by the _attn split kernels (window, softcap, ALiBi, sinks in the
  // direct epilogue) and the _sink combine kernels; 0 / -1 in every other launch.
  uint64_t sink_logits_ptr;  // fp32 [heads_q] sink logits (natural-log units), 0 = none
  uint64_t alibi_slopes_ptr; // fp32 [heads_q] ALiBi slopes, 0 = none
  uint32_t features;         // kAttn* bits of the call (attn_kernel_abi.h)
  int32_t window_left;       // canonical window (attn.h canonical_window): -1 = unbounded
  int32_t window_right;      // causal folded in (0 = diagonal), -1 = unbounded
  float softcap_pre;         // softmax_scale / softcap (the tanh argument per unit score), 0 = off
  float softcap_post_log2;   // softcap * log2(e): tanh value -> log2-domain score
  // e4m3 cache (the _e4m3 split kernels): K = k_scale * e4m3, V = v_scale * e4m3.
  int32_t kv_scale_stride;   // 0: one scale for the tensor; 1: one per KV head (index kv head)
  uint64_t k_scale_ptr;      // fp32 device array, 0 for a bf16 cache
  uint64_t v_scale_ptr;      // fp32 device array, 0 for a bf16 cache
  // The K / V cache for the cp.async producer of the plain bf16 rows (contiguous caches): base
  // pointers and the strides in bytes, K's and V's the same (the host writes 0 pointers
  // otherwise and the kernels then keep TMA).
  uint64_t k_ptr;
  uint64_t v_ptr;
  uint64_t kv_batch_stride_bytes;
  uint32_t kv_seq_stride_bytes;
  uint32_t kv_head_stride_bytes;
  // The _ho rows (chunks handed out at run time): one uint32 counter per (sequence, KV head,
  // m-group) unit, index b * grid.x + x, zeroed by the host before the split launch; 0 elsewhere.
  uint64_t ho_counters_ptr;
};

static_assert(sizeof(CUtensorMap) == 128, "CUtensorMap is 128 bytes");
static_assert(offsetof(DecodeKernelParams, tma_k) == 0, "abi");
static_assert(offsetof(DecodeKernelParams, tma_v) == 128, "abi");
static_assert(offsetof(DecodeKernelParams, q_ptr) == 256, "abi");
static_assert(offsetof(DecodeKernelParams, o_ptr) == 264, "abi");
static_assert(offsetof(DecodeKernelParams, lse_ptr) == 272, "abi");
static_assert(offsetof(DecodeKernelParams, seqlens_ptr) == 280, "abi");
static_assert(offsetof(DecodeKernelParams, block_table_ptr) == 288, "abi");
static_assert(offsetof(DecodeKernelParams, ws_o_ptr) == 296, "abi");
static_assert(offsetof(DecodeKernelParams, ws_lse_ptr) == 304, "abi");
static_assert(offsetof(DecodeKernelParams, q_batch_stride) == 312, "abi");
static_assert(offsetof(DecodeKernelParams, q_seq_stride) == 320, "abi");
static_assert(offsetof(DecodeKernelParams, q_head_stride) == 328, "abi");
static_assert(offsetof(DecodeKernelParams, o_batch_stride) == 336, "abi");
static_assert(offsetof(DecodeKernelParams, o_seq_stride) == 344, "abi");
static_assert(offsetof(DecodeKernelParams, o_head_stride) == 352, "abi");
static_assert(offsetof(DecodeKernelParams, batch) == 360, "abi");
static_assert(offsetof(DecodeKernelParams, seqlen_q) == 364, "abi");
static_assert(offsetof(DecodeKernelParams, max_seqlen_k) == 368, "abi");
static_assert(offsetof(DecodeKernelParams, heads_q) == 372, "abi");
static_assert(offsetof(DecodeKernelParams, heads_kv) == 376, "abi");
static_assert(offsetof(DecodeKernelParams, gqa_ratio) == 380, "abi");
static_assert(offsetof(DecodeKernelParams, page_shift) == 384, "abi");
static_assert(offsetof(DecodeKernelParams, max_blocks_per_seq) == 388, "abi");
static_assert(offsetof(DecodeKernelParams, box_shift) == 392, "abi");
static_assert(offsetof(DecodeKernelParams, num_splits) == 396, "abi");
static_assert(offsetof(DecodeKernelParams, split_keys) == 400, "abi");
static_assert(offsetof(DecodeKernelParams, causal) == 404, "abi");
static_assert(offsetof(DecodeKernelParams, scale_log2) == 408, "abi");
static_assert(offsetof(DecodeKernelParams, m_groups) == 412, "abi");
static_assert(offsetof(DecodeKernelParams, packed_rows) == 416, "abi");
static_assert(offsetof(DecodeKernelParams, combine_rows) == 420, "abi");
static_assert(offsetof(DecodeKernelParams, sink_logits_ptr) == 424, "abi");
static_assert(offsetof(DecodeKernelParams, alibi_slopes_ptr) == 432, "abi");
static_assert(offsetof(DecodeKernelParams, features) == 440, "abi");
static_assert(offsetof(DecodeKernelParams, window_left) == 444, "abi");
static_assert(offsetof(DecodeKernelParams, window_right) == 448, "abi");
static_assert(offsetof(DecodeKernelParams, softcap_pre) == 452, "abi");
static_assert(offsetof(DecodeKernelParams, softcap_post_log2) == 456, "abi");
static_assert(offsetof(DecodeKernelParams, kv_scale_stride) == 460, "abi");
static_assert(offsetof(DecodeKernelParams, k_scale_ptr) == 464, "abi");
static_assert(offsetof(DecodeKernelParams, v_scale_ptr) == 472, "abi");
static_assert(offsetof(DecodeKernelParams, k_ptr) == 480, "abi");
static_assert(offsetof(DecodeKernelParams, kv_head_stride_bytes) == 508, "abi");
static_assert(offsetof(DecodeKernelParams, ho_counters_ptr) == 512, "abi");
static_assert(sizeof(DecodeKernelParams) == 640, "abi");  // CUtensorMap aligns it to 128

}  // namespace ptxfmha
