// Kernel parameter block ABI of the backward kernels (preprocess, main, postprocess; sm90a).
//
// All three kernels of one ptxfmha_bwd call take the same by-value block:
// `.param .align 64 .b8 bwd_params[896]`. The PTX side names the offsets in
// ptx/include/bwd_params.ptxh; tests/test_bwd_abi.cpp checks every #define against offsetof()
// here and the `.param` size of every assembled backward kernel against sizeof(). Offsets and
// sizes are bytes, strides are elements.
#pragma once
#include <cuda.h>
#include <cstddef>
#include <cstdint>

namespace ptxfmha {

struct alignas(64) BwdKernelParams {
  CUtensorMap tma_q;     // main: 4-D {head_dim, seqlen_q, heads_q, batch}, box {64, BLOCK_M}, 128B swizzle
  CUtensorMap tma_k;     // main: 4-D over K, box {64, BLOCK_N}, 128B swizzle
  CUtensorMap tma_v;     // main: as tma_k over V
  CUtensorMap tma_do;    // main: as tma_q over dO
  uint64_t o_ptr;        // pre: bf16 O
  uint64_t do_ptr;       // pre: bf16 dO
  uint64_t lse_ptr;      // pre: fp32 LSE [batch, heads_q, seqlen_q] (natural log)
  uint64_t dq_ptr;       // post: bf16 dQ
  uint64_t dk_ptr;       // main: bf16 dK
  uint64_t dv_ptr;       // main: bf16 dV
  uint64_t dq_acc_ptr;   // workspace: fp32 dQ accumulator, tiles (b, h, m-block) of BLOCK_M x D
  uint64_t nlse_ptr;     // workspace: fp32 -LSE * log2(e) [batch, heads_q, seqlen_q_pad], -inf
                         //   for rows without keys and padding rows
  uint64_t dsum_ptr;     // workspace: fp32 D = rowsum(dO * O) [batch, heads_q, seqlen_q_pad]
  uint64_t sem_ptr;      // workspace: u32 [batch, heads_q, num_m_blocks] dQ-order semaphores
  uint64_t debug_ptr;    // main: 0, or scratch for the first m-block of CTA (0, 0, 0): its dS^T
                         //   (and P^T) tiles and dQ partial (ptx/body/sm90_bwd/dq_writer.ptxh)
  int64_t o_stride[3];   // batch, seq, head
  int64_t do_stride[3];
  int64_t dq_stride[3];
  int64_t dk_stride[3];
  int64_t dv_stride[3];
  int32_t seqlen_q;
  int32_t seqlen_k;
  int32_t heads_q;
  int32_t heads_kv;
  int32_t gqa_ratio;     // heads_q / heads_kv
  int32_t batch;
  int32_t causal;        // 0 or 1, bottom-right aligned
  int32_t num_m_blocks;  // ceil(seqlen_q / BLOCK_M)
  int32_t seqlen_q_pad;  // num_m_blocks * BLOCK_M: row stride of nlse / dsum
  float scale_log2;      // softmax_scale * log2(e)
  float softmax_scale;   // dK (main) and dQ (post) are multiplied by it
  int32_t deterministic; // 0 or 1: dQ partial sums added in n-block order (semaphores)
  // The serving features (ext main kernels, ptx/body/sm90_bwd/features.ptxh; the plain
  // kernels ignore them). Window sides after canonical_window (attn.cpp), INT32_MAX for an
  // unbounded side (causal: window_right 0).
  int32_t window_left;
  int32_t window_right;
  float softcap_in;      // softmax_scale / softcap; 0 = softcap off
  float softcap_out;     // softcap * log2(e)
  uint64_t alibi_ptr;    // fp32 [heads_q] ALiBi slopes or 0
  uint64_t sink_ptr;     // fp32 [heads_q] sink logits or 0 (d_sink)
  uint64_t dsink_ptr;    // fp32 [heads_q] d_sink output or 0
  // Variable length (every kernel; ptx/body/sm90_bwd/varlen.ptxh): the metadata pointers (0 =
  // fixed length on that side), the declared totals and bounds every value read is clamped
  // to, and the varlen workspace's tiling: sequence b, query head h, m-block m own tile
  // h * ws_tiles + (start_q(b) / ws_block_m) + b + m of the dQ accumulator, rows
  // tile * ws_block_m .. of nlse / dsum, semaphore `tile` (bwd.h, BwdWorkspaceLayout).
  uint64_t cu_q_ptr;     // int32 [batch + 1] cu_seqlens_q or 0
  uint64_t cu_k_ptr;     // int32 [batch + 1] cu_seqlens_k or 0
  uint64_t seqused_ptr;  // int32 [batch] seqused_k or 0
  int32_t total_q;       // varlen Q: rows of the packed Q / O / dO / dQ; else 0
  int32_t total_k;       // varlen K: rows of the packed K / V / dK / dV; else 0
  int32_t max_seqlen_q;  // varlen Q: bound of len_q(b); else seqlen_q
  int32_t max_seqlen_k;  // varlen K: bound of cap_k(b); else seqlen_k
  int32_t ws_tiles;      // varlen Q: tiles per query head, total_q / BLOCK_M + batch; else 0
  int32_t ws_block_m;    // BLOCK_M (the dsink kernel has no tile facts of its own)
  // 1: CTA n of the plain main kernel walks each head's m-blocks from m-block n, wrapping
  // (setup.ptxh, "Rotated walk"; bwd_rotate_walk in bwd.h says when); 0: from m_first up.
  int32_t rotate;
  int32_t reserved[9];
};

static_assert(sizeof(CUtensorMap) == 128, "CUtensorMap is 128 bytes");
static_assert(offsetof(BwdKernelParams, tma_q) == 0, "abi");
static_assert(offsetof(BwdKernelParams, tma_k) == 128, "abi");
static_assert(offsetof(BwdKernelParams, tma_v) == 256, "abi");
static_assert(offsetof(BwdKernelParams, tma_do) == 384, "abi");
static_assert(offsetof(BwdKernelParams, o_ptr) == 512, "abi");
static_assert(offsetof(BwdKernelParams, do_ptr) == 520, "abi");
static_assert(offsetof(BwdKernelParams, lse_ptr) == 528, "abi");
static_assert(offsetof(BwdKernelParams, dq_ptr) == 536, "abi");
static_assert(offsetof(BwdKernelParams, dk_ptr) == 544, "abi");
static_assert(offsetof(BwdKernelParams, dv_ptr) == 552, "abi");
static_assert(offsetof(BwdKernelParams, dq_acc_ptr) == 560, "abi");
static_assert(offsetof(BwdKernelParams, nlse_ptr) == 568, "abi");
static_assert(offsetof(BwdKernelParams, dsum_ptr) == 576, "abi");
static_assert(offsetof(BwdKernelParams, sem_ptr) == 584, "abi");
static_assert(offsetof(BwdKernelParams, debug_ptr) == 592, "abi");
static_assert(offsetof(BwdKernelParams, o_stride) == 600, "abi");
static_assert(offsetof(BwdKernelParams, do_stride) == 624, "abi");
static_assert(offsetof(BwdKernelParams, dq_stride) == 648, "abi");
static_assert(offsetof(BwdKernelParams, dk_stride) == 672, "abi");
static_assert(offsetof(BwdKernelParams, dv_stride) == 696, "abi");
static_assert(offsetof(BwdKernelParams, seqlen_q) == 720, "abi");
static_assert(offsetof(BwdKernelParams, seqlen_k) == 724, "abi");
static_assert(offsetof(BwdKernelParams, heads_q) == 728, "abi");
static_assert(offsetof(BwdKernelParams, heads_kv) == 732, "abi");
static_assert(offsetof(BwdKernelParams, gqa_ratio) == 736, "abi");
static_assert(offsetof(BwdKernelParams, batch) == 740, "abi");
static_assert(offsetof(BwdKernelParams, causal) == 744, "abi");
static_assert(offsetof(BwdKernelParams, num_m_blocks) == 748, "abi");
static_assert(offsetof(BwdKernelParams, seqlen_q_pad) == 752, "abi");
static_assert(offsetof(BwdKernelParams, scale_log2) == 756, "abi");
static_assert(offsetof(BwdKernelParams, softmax_scale) == 760, "abi");
static_assert(offsetof(BwdKernelParams, deterministic) == 764, "abi");
static_assert(offsetof(BwdKernelParams, window_left) == 768, "abi");
static_assert(offsetof(BwdKernelParams, window_right) == 772, "abi");
static_assert(offsetof(BwdKernelParams, softcap_in) == 776, "abi");
static_assert(offsetof(BwdKernelParams, softcap_out) == 780, "abi");
static_assert(offsetof(BwdKernelParams, alibi_ptr) == 784, "abi");
static_assert(offsetof(BwdKernelParams, sink_ptr) == 792, "abi");
static_assert(offsetof(BwdKernelParams, dsink_ptr) == 800, "abi");
static_assert(offsetof(BwdKernelParams, cu_q_ptr) == 808, "abi");
static_assert(offsetof(BwdKernelParams, cu_k_ptr) == 816, "abi");
static_assert(offsetof(BwdKernelParams, seqused_ptr) == 824, "abi");
static_assert(offsetof(BwdKernelParams, total_q) == 832, "abi");
static_assert(offsetof(BwdKernelParams, total_k) == 836, "abi");
static_assert(offsetof(BwdKernelParams, max_seqlen_q) == 840, "abi");
static_assert(offsetof(BwdKernelParams, max_seqlen_k) == 844, "abi");
static_assert(offsetof(BwdKernelParams, ws_tiles) == 848, "abi");
static_assert(offsetof(BwdKernelParams, ws_block_m) == 852, "abi");
static_assert(offsetof(BwdKernelParams, rotate) == 856, "abi");
static_assert(offsetof(BwdKernelParams, reserved) == 860, "abi");
static_assert(sizeof(BwdKernelParams) == 896, "abi");

}  // namespace ptxfmha
