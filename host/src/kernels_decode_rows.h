// The decode kernel rows, from one manifest: the same split-KV decode and combine bodies
// (ptx/body/sm90_decode/kernel.ptxh, combine.ptxh) are assembled for every architecture folder,
// and ptx/manifest/sm90_decode.h lists each folder's kernels; each kernels_decode_<arch>.cpp
// expands its folder's lists with PTXFMHA_DECODE_ROWS(<arch>). The rows are the same rows the
// .ptx stubs take their KERNEL_* facts from; tests/ check the two agree.
//
// fmha_decode_d*_<arch>         split-KV decode: 160 threads (4 consumer warps + 1 TMA producer
//                               warp), up to 64 packed query rows (block_m) per CTA, 64-key
//                               tiles (block_n); shared memory from the body's layout.ptxh.
// fmha_decode_combine_d*_<arch> merge of the split partials: 32 threads, one warp = one CTA per
//                               output row (block_m = 1), no shared memory, no key tiles.
#pragma once
#include "decode_abi.h"
#include "kernel_table.h"
#include "../../ptx/manifest/sm90_decode.h"

namespace ptxfmha {

constexpr int kDecodeParamBytes = static_cast<int>(sizeof(DecodeKernelParams));

}  // namespace ptxfmha

// One KernelInfo per manifest row of a split kernel / of a combine kernel.
#define PTXFMHA_DECODE_SPLIT_ROW(name)                                                          \
  {#name,                                                                                       \
   PTXFMHA_STR(PTXFMHA_FIELD(SM90_DECODE_ARCH_, name)),                                         \
   PTXFMHA_SM(PTXFMHA_FIELD(SM90_DECODE_ARCH_, name)),                                          \
   KernelKind::Decode,                                                                          \
   PTXFMHA_FIELD(SM90_DECODE_HEAD_DIM_, name),                                                  \
   SM90_DECODE_BLOCK_M,                                                                         \
   SM90_DECODE_BLOCK_N,                                                                         \
   SM90_DECODE_THREADS,                                                                         \
   PTXFMHA_FIELD(SM90_DECODE_SMEM_, name),                                                      \
   kDecodeParamBytes},
#define PTXFMHA_DECODE_COMBINE_ROW(name)                                                        \
  {#name,                                                                                       \
   PTXFMHA_STR(PTXFMHA_FIELD(SM90_DECODE_COMBINE_ARCH_, name)),                                 \
   PTXFMHA_SM(PTXFMHA_FIELD(SM90_DECODE_COMBINE_ARCH_, name)),                                  \
   KernelKind::DecodeCombine,                                                                   \
   PTXFMHA_FIELD(SM90_DECODE_COMBINE_HEAD_DIM_, name),                                          \
   SM90_DECODE_COMBINE_BLOCK_M,                                                                 \
   SM90_DECODE_COMBINE_BLOCK_N,                                                                 \
   SM90_DECODE_COMBINE_THREADS,                                                                 \
   0,                                                                                           \
   kDecodeParamBytes},
// The rows of architecture folder ARCH (a bare token: sm90a, sm100a): split kernels, then
// their combine kernels.
#define PTXFMHA_DECODE_ROWS(ARCH)                                                               \
  SM90_DECODE_KERNELS_##ARCH(PTXFMHA_DECODE_SPLIT_ROW)                                          \
  SM90_DECODE_COMBINE_KERNELS_##ARCH(PTXFMHA_DECODE_COMBINE_ROW)
