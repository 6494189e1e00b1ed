// Kernel parameter block ABI shared by every forward (prefill) kernel, sm90a and sm100a.
//
// Each kernel takes exactly one by-value parameter: `.param .align 64 .b8 params[640]`.
// The PTX side names the same offsets in ptx/include/fwd_params.ptxh; a test parses that
// file and checks each #define against offsetof() here, and checks the `.param` size of
// every assembled kernel against sizeof(FwdKernelParams). All offsets and sizes are bytes.
#pragma once
#include <cuda.h>
#include <cstddef>
#include <cstdint>

namespace ptxfmha {

struct alignas(64) FwdKernelParams {
  CUtensorMap tma_q;  // 4-D {head_dim, seqlen_q, heads_q, batch}, box {64, BLOCK_M, 1, 1}, 128B swizzle
  CUtensorMap tma_k;  // 4-D {head_dim, seqlen_k, heads_kv, batch}, box {64, BLOCK_N, 1, 1}, 128B swizzle
  CUtensorMap tma_v;  // same as tma_k over V
  CUtensorMap tma_o;  // 4-D over O, box {64, 16, 1, 1}, 128B swizzle (sm_90a: TMA store per warp)
  uint64_t o_ptr;     // bf16 O base address
  uint64_t lse_ptr;   // fp32 LSE base address, 0 when LSE is not wanted
  int64_t o_batch_stride;  // elements
  int64_t o_seq_stride;    // elements
  int64_t o_head_stride;   // elements
  int32_t seqlen_q;
  int32_t seqlen_k;
  int32_t heads_q;
  int32_t gqa_ratio;       // heads_q / heads_kv
  int32_t causal;          // 0 or 1, bottom-right aligned
  int32_t num_m_blocks;    // ceil(seqlen_q / BLOCK_M)
  float scale_log2;        // softmax_scale * log2(e), for ex2
  int32_t batch;
  int32_t total_tiles;     // num_m_blocks * heads_q * batch (persistent schedulers)
  int32_t head_group;      // (head, batch) pairs per tile-order group (>= 1), see fwd.cpp
  uint64_t tile_counter;   // 2 x u32 {next tile, CTAs done} (zero between launches), or 0:
                           // static schedule (TileLoop kernels; runtime.h tile_counter())
  int32_t reserved[10];
};

static_assert(sizeof(CUtensorMap) == 128, "CUtensorMap is 128 bytes");
static_assert(offsetof(FwdKernelParams, tma_q) == 0, "abi");
static_assert(offsetof(FwdKernelParams, tma_k) == 128, "abi");
static_assert(offsetof(FwdKernelParams, tma_v) == 256, "abi");
static_assert(offsetof(FwdKernelParams, tma_o) == 384, "abi");
static_assert(offsetof(FwdKernelParams, o_ptr) == 512, "abi");
static_assert(offsetof(FwdKernelParams, lse_ptr) == 520, "abi");
static_assert(offsetof(FwdKernelParams, o_batch_stride) == 528, "abi");
static_assert(offsetof(FwdKernelParams, o_seq_stride) == 536, "abi");
static_assert(offsetof(FwdKernelParams, o_head_stride) == 544, "abi");
static_assert(offsetof(FwdKernelParams, seqlen_q) == 552, "abi");
static_assert(offsetof(FwdKernelParams, seqlen_k) == 556, "abi");
static_assert(offsetof(FwdKernelParams, heads_q) == 560, "abi");
static_assert(offsetof(FwdKernelParams, gqa_ratio) == 564, "abi");
static_assert(offsetof(FwdKernelParams, causal) == 568, "abi");
static_assert(offsetof(FwdKernelParams, num_m_blocks) == 572, "abi");
static_assert(offsetof(FwdKernelParams, scale_log2) == 576, "abi");
static_assert(offsetof(FwdKernelParams, batch) == 580, "abi");
static_assert(offsetof(FwdKernelParams, total_tiles) == 584, "abi");
static_assert(offsetof(FwdKernelParams, head_group) == 588, "abi");
static_assert(offsetof(FwdKernelParams, tile_counter) == 592, "abi");
static_assert(sizeof(FwdKernelParams) == 640, "abi");

}  // namespace ptxfmha
