// Attention backward (ptxfmha_bwd), host side: argument validation, the workspace layout and
// the launch of the three kernels. Entry points live in bwd.cpp.
//
// Flow of ptxfmha_bwd:
//   read_bwd_params        struct_size: copies the caller's block (any size >= ours whose
//                          unknown tail is zero) into a local ptxfmha_bwd_params
//   validate_bwd_shape     everything that needs no device (list below)
//   workspace checks       present, large enough, aligned, not overlapping any tensor
//   acquire_device         context, architecture
//   rows                   fmha_bwd_pre / fmha_bwd (fmha_bwd_d*_ext when the call uses a
//                          window, softcap or ALiBi: bwd_features) / fmha_bwd_post for head_dim
//                          (UNSUPPORTED_HEAD_DIM when the device's arch has none), their
//                          cubins loaded before anything is launched
//   device ranges          every tensor, the LSE and the workspace inside memory CUDA knows
//   launches, in stream order:
//     (num_m_blocks, num_n_blocks: over seqlen_q / seqlen_k, or with variable length over
//     max_seqlen_q / max_seqlen_k; a CTA past its sequence's rows does nothing; a kernel
//     whose grid would be empty is not launched; variable length runs the _ext main rows)
//     fmha_bwd_pre_d<D>_sm90a   grid (num_m_blocks, heads_q, batch): D = rowsum(dO * O),
//                               -LSE*log2(e), zeroes the dQ-order semaphores (the first
//                               contributor of a dQ accumulator tile stores it)
//     fmha_bwd_dsink_sm90a      (d_sink only) grid (heads_q): d_sink from the rows pre wrote
//     fmha_bwd_d<D>_sm90a       grid (ceil(seqlen_k / BLOCK_N), heads_kv, batch): dK, dV
//                               (bf16, written directly) and dQ partial sums into the
//                               accumulator
//     fmha_bwd_post_d<D>_sm90a  grid (num_m_blocks, heads_q, batch): dQ = scale * accumulator
//                               -> bf16 (0 for a tile no n-block stored: semaphore 0)
//     (main and post: programmatic dependent launch behind fmha_bwd_pre, kernel.ptxh;
//     PTXFMHA_BWD_PDL=0 serializes them)
//
// Checks that need no device, in this order (the first failure is reported):
//   NULL_POINTER          params; q, k, v, o, dout, lse, dq, dk, dv
//   INVALID_ARGUMENT      struct_size smaller than this library's ptxfmha_bwd_params, larger
//                         than 64 KiB, or larger with a non-zero byte past ours
//   INVALID_SIZE          batch, heads_q, heads_kv, head_dim <= 0
//   Q lengths, K lengths  check_lengths (validate_attn.h), the rules of ptxfmha_attn_params:
//                         fixed: INVALID_SIZE seqlen_q <= 0, INVALID_ARGUMENT max_seqlen_q or
//                         total_q != 0; varlen (cu_seqlens_q): INVALID_ARGUMENT seqlen_q != 0,
//                         INVALID_SIZE max_seqlen_q or total_q < 0, INVALID_ARGUMENT
//                         max_seqlen_q > total_q or total_q > batch * max_seqlen_q; the same
//                         for K with seqlen_k / max_seqlen_k / total_k / cu_seqlens_k
//   GQA_RATIO             heads_q % heads_kv != 0
//   MISALIGNED_POINTER    q, k, v, o, dout, dq, dk, dv not 16-byte aligned; lse not 4-byte
//                         aligned
//   INVALID_SCALE         softmax_scale NaN, infinite or < 0 (0 = 1/sqrt(head_dim))
//   INVALID_ARGUMENT      causal or deterministic not 0 or 1; reserved0 not 0
//   INVALID_ARGUMENT      window_left / window_right < -1, causal with window_right > 0,
//                         softcap NaN, infinite or < 0 (validate_window_softcap); reserved1
//                         not 0
//   MISALIGNED_POINTER    alibi_slopes, sink_logits, d_sink, cu_seqlens_q, cu_seqlens_k,
//                         seqused_k not 4-byte aligned
//   INVALID_ARGUMENT      d_sink without sink_logits
//   SIZE_OVERFLOW         heads_q or batch > 65535 (grid limits); max_seqlen_* or total_* >
//                         2^31 - 257; workspace rows (batch * heads_q * round_up(seqlen_q,
//                         128), or heads_q * round_up(total_q + 128 batch, 128)) >= 2^31 (rows
//                         the kernels index in 32 bits); key rows (batch * heads_kv *
//                         seqlen_k, or heads_kv * total_k) >= 2^31
//   INVALID_STRIDE        a packed side's batch stride != 0 (q, o, dout, dq with
//                         cu_seqlens_q; k, v, dk, dv with cu_seqlens_k)
//   per tensor q, k, v, o, dout, dq, dk, dv (validate_tensor, in the packed layout [1, total,
//   heads, D] for a packed side; one of 0 rows is not checked): INVALID_STRIDE / SIZE_OVERFLOW
//   SIZE_OVERFLOW         a metadata array's range wraps the address space
//   ALIASING              dq, dk or dv overlaps another output or any input (q, k, v, o,
//                         dout, lse, cu_seqlens_q, cu_seqlens_k, seqused_k); d_sink overlaps
//                         any of those or the per-head arrays
// and in ptxfmha_bwd only (ptxfmha_bwd_workspace_size ignores the workspace fields):
//   NULL_POINTER          workspace is NULL
//   INVALID_ARGUMENT      workspace_bytes < ptxfmha_bwd_workspace_size
//   MISALIGNED_POINTER    workspace not 16-byte aligned
//   SIZE_OVERFLOW         workspace + its size overflows the address space
//   ALIASING              the workspace overlaps a tensor, the LSE or a metadata array
// (ptxfmha_check_bwd_metadata checks the metadata's contents, metadata.cpp.)
#pragma once
#include <cstdint>
#include <vector>

#include "kernel_table.h"
#include "ptxfmha/ptxfmha.h"
#include "validate.h"
#include "validate_attn.h"

namespace ptxfmha {

// Rows of the workspace's per-(batch, head) arrays are padded to a multiple of this (the
// largest BLOCK_M of the backward kernels), so the size needs no device.
constexpr int kBwdRowPad = 128;
// Every workspace region starts at a multiple of this many bytes from the base.
constexpr uint64_t kBwdWsAlignBytes = 256;

// Workspace regions, byte offsets from the base; ROWS = batch * heads_q * round_up(seqlen_q,
// kBwdRowPad), or with packed Q heads_q * round_up(total_q + kBwdRowPad * batch, kBwdRowPad):
//   dq_acc  fp32 dQ accumulator, ROWS * head_dim floats in tiles of BLOCK_M rows (fixed:
//           num_m_blocks * BLOCK_M <= round_up(seqlen_q, 128) rows per (batch, head);
//           packed: per head total_q / BLOCK_M + batch tiles, sequence b's from start_q(b) /
//           BLOCK_M + b on: each sequence pads its last tile without touching the next's,
//           ptx/body/sm90_bwd/varlen.ptxh; tile layout ptx/body/sm90_bwd/layout.ptxh)
//   nlse    fp32 -LSE * log2(e), ROWS (row = tile * BLOCK_M + row in the m-block)
//   dsum    fp32 D = rowsum(dO * O), ROWS
//   sem     u32 semaphores, ROWS / 64 (one per tile of >= 64 rows)
struct BwdWorkspaceLayout {
  uint64_t dq_acc = 0, nlse = 0, dsum = 0, sem = 0;
  uint64_t bytes = 0;  // total
};
// False when a size overflows 64 bits (validated shapes never do). Fixed-length Q, packed Q,
// a given ROWS, and the params' own (either).
bool bwd_workspace_layout(int64_t batch, int64_t heads_q, int64_t seqlen_q, int64_t head_dim,
                          BwdWorkspaceLayout* out);
bool bwd_workspace_layout_varlen(int64_t batch, int64_t heads_q, int64_t total_q, int64_t head_dim,
                                 BwdWorkspaceLayout* out);
bool bwd_workspace_layout_rows(unsigned __int128 rows, int64_t head_dim, BwdWorkspaceLayout* out);
bool bwd_workspace_layout(const ptxfmha_bwd_params& p, BwdWorkspaceLayout* out);

// Packed (variable-length) Q / K sides, and the longest sequence of each (seqlen_q or
// max_seqlen_q, seqlen_k or max_seqlen_k).
bool bwd_varlen_q(const ptxfmha_bwd_params& p);
// The metadata arrays' byte ranges: cu_seqlens_q, cu_seqlens_k (batch + 1 entries), seqused_k
// (batch); empty for an absent one. Requires validated params.
std::vector<ByteRange> bwd_meta_ranges(const ptxfmha_bwd_params& p);
bool bwd_varlen_k(const ptxfmha_bwd_params& p);
int32_t bwd_max_len_q(const ptxfmha_bwd_params& p);
int32_t bwd_max_len_k(const ptxfmha_bwd_params& p);

// Copies the caller's block into *out (struct_size checks above; NULL params included); a
// block of an older version (struct_size >= PTXFMHA_BWD_PARAMS_SIZE_V1) gets the defaults of
// bwd_params_defaults for the fields it lacks.
ptxfmha_status read_bwd_params(const ptxfmha_bwd_params* p, ptxfmha_bwd_params* out);
// ptxfmha_bwd_params_init's block: zeros, struct_size, window_left = window_right = -1.
void bwd_params_defaults(ptxfmha_bwd_params* p);
// AttnFeature bits (attn_kernel_abi.h) a validated call uses: varlen Q / K, seqused_k, window
// (after canonical_window with the longest sequences), softcap, ALiBi, sinks.
uint32_t bwd_features(const ptxfmha_bwd_params& p);
// The fmha_bwd_dsink row of sm (kind BwdPost, head dim 0), or nullptr.
const KernelInfo* find_bwd_dsink_row(int sm);
// The first EXT main row of (sm, head_dim) whose features cover `features`, or nullptr.
const KernelInfo* find_bwd_ext_row(int sm, int head_dim, uint32_t features);
// Whether the main kernel walks each head's m-blocks rotated (B_ROTATE; setup.ptxh "Rotated
// walk", dq_writer.ptxh ORDER_PLACE): a plain row (the ext rows never rotate), not causal,
// num_n_blocks <= num_m_blocks (CTA n starts on m-block n) and num_n_blocks <= num_sms (the
// rotated deterministic order needs the N CTAs of a (KV head, batch) resident together; the
// main kernels run one CTA per SM). turned_off: PTXFMHA_BWD_ROTATE=0 (env_says_off; the A/B
// in the bench).
bool bwd_rotate_walk(bool plain_row, bool causal, int64_t num_n_blocks, int64_t num_m_blocks, int num_sms,
                     bool turned_off);
// The device-free checks listed above, on a block read_bwd_params accepted.
ptxfmha_status validate_bwd_shape(const ptxfmha_bwd_params& p);
// The workspace checks (need = bwd_workspace_layout(...).bytes).
ptxfmha_status validate_bwd_workspace(const ptxfmha_bwd_params& p, uint64_t need);

// Tensor views of the bwd operands (elem_bytes 2), named as the fields: [batch, seqlen, heads,
// D], or packed [1, total, heads, D] (batch stride 0) on a variable-length side.
TensorView bwd_q_view(const ptxfmha_bwd_params& p);
TensorView bwd_k_view(const ptxfmha_bwd_params& p);
TensorView bwd_v_view(const ptxfmha_bwd_params& p);
TensorView bwd_o_view(const ptxfmha_bwd_params& p);
TensorView bwd_dout_view(const ptxfmha_bwd_params& p);
TensorView bwd_dq_view(const ptxfmha_bwd_params& p);
TensorView bwd_dk_view(const ptxfmha_bwd_params& p);
TensorView bwd_dv_view(const ptxfmha_bwd_params& p);

// The softmax scale the kernels use: p.softmax_scale, or 1/sqrt(head_dim) when it is 0.
float bwd_effective_scale(const ptxfmha_bwd_params& p);

// ptxfmha_bwd with a debug scratch buffer for the main kernel (tests): when debug != 0, the
// main kernel's CTA (0, 0, 0) copies its first m-block's dS^T tile, P^T tile (head dim 256)
// and fp32 dQ partial there (layout: ptx/body/sm90_bwd/dq_writer.ptxh; size
// bwd_debug_bytes()). debug == 0 is ptxfmha_bwd.
ptxfmha_status bwd_with_debug(const ptxfmha_bwd_params* params, uint64_t debug);
// Bytes of the debug scratch for a main kernel row: 2 bf16 tiles of block_n x block_m, then
// block_m x head_dim fp32.
int64_t bwd_debug_bytes(const KernelInfo& main_row);

// The main-kernel row (KernelKind::Bwd, default or variant) named `name`, or nullptr.
const KernelInfo* find_bwd_main_row(const char* name);
// ptxfmha_bwd with `main` (a row find_bwd_main_row returned, e.g. a variant of the manifest)
// instead of the head dim's default main kernel, with the head dim's pre and post kernels
// (tests, ptxfmha_bench --ptxfmha_bwd_kernel). INVALID_ARGUMENT when main is not a main row of
// params->head_dim, UNSUPPORTED_ARCH when it is not for the device's architecture. debug as
// bwd_with_debug.
ptxfmha_status bwd_with_main_row(const ptxfmha_bwd_params* params, const KernelInfo* main, uint64_t debug);

}  // namespace ptxfmha
