// Kernel parameter block ABI of the decode kernels (split kernel and combine kernel), sm90a and sm100a (same bodies).
//
// Both kernels take exactly one by-value parameter: `.param .align 64 .b8 dparams[512]`.
// The PTX side names the same offsets in ptx/include/decode_params.ptxh; tests/test_decode_abi.cpp
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
  int32_t reserved[22];    // pads to 512 bytes (CUtensorMap is 128-byte aligned)
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
static_assert(sizeof(DecodeKernelParams) == 512, "abi");

}  // namespace ptxfmha
