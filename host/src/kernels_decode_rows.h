// The decode kernel rows, from one manifest: the same split-KV decode and combine bodies
// (ptx/body/sm90_decode/kernel.ptxh, combine.ptxh) are assembled for every architecture folder,
// and ptx/manifest/sm90_decode.h lists each folder's kernels; each kernels_decode_<arch>.cpp
// expands its folder's lists with PTXFMHA_DECODE_ROWS(<arch>) (kernel-table rows) and
// PTXFMHA_DECODE_FACT_ROWS(<arch>) (the decode facts the host picks a row by, decode_rows.h).
// The rows are the same rows the .ptx stubs take their KERNEL_* facts from; tests/ check the
// two agree.
//
// fmha_decode_d*_<arch>         split-KV decode: 160 threads (4 consumer warps + 1 TMA producer
//                               warp), up to 64 packed query rows (block_m) per CTA, 64-key
//                               tiles (block_n); shared memory from the body's layout.ptxh.
//                               The default of each head dim is KernelKind::Decode (bf16,
//                               plain); the others (_attn, _e4m3, _e4m3_attn, the A/B levers
//                               _ef, _s6, _h2, the cluster-merge rows _cl, the warpgroup rows
//                               _wg, sm90a only)
//                               KernelKind::DecodeVariant.
// fmha_decode_combine_d*_<arch> merge of the split partials: 32 threads, one warp = one CTA per
//                               output row (block_m = 1), no shared memory, no key tiles;
//                               _sink: KernelKind::DecodeCombineVariant.
#pragma once
#include "decode_abi.h"
#include "decode_rows.h"
#include "kernel_table.h"
#include "../../ptx/manifest/sm90_decode.h"

namespace ptxfmha {

constexpr int kDecodeParamBytes = static_cast<int>(sizeof(DecodeKernelParams));

}  // namespace ptxfmha

// One KernelInfo per manifest row of a split kernel / of a combine kernel.
#define PTXFMHA_DECODE_SPLIT_ROW_K(name, kind)                                                  \
  {#name,                                                                                       \
   PTXFMHA_STR(PTXFMHA_FIELD(SM90_DECODE_ARCH_, name)),                                         \
   PTXFMHA_SM(PTXFMHA_FIELD(SM90_DECODE_ARCH_, name)),                                          \
   kind,                                                                                        \
   PTXFMHA_FIELD(SM90_DECODE_HEAD_DIM_, name),                                                  \
   SM90_DECODE_BLOCK_M,                                                                         \
   SM90_DECODE_BLOCK_N,                                                                         \
   PTXFMHA_FIELD(SM90_DECODE_THREADS_, name),                                                   \
   PTXFMHA_FIELD(SM90_DECODE_SMEM_, name),                                                      \
   kDecodeParamBytes},
#define PTXFMHA_DECODE_COMBINE_ROW_K(name, kind)                                                \
  {#name,                                                                                       \
   PTXFMHA_STR(PTXFMHA_FIELD(SM90_DECODE_COMBINE_ARCH_, name)),                                 \
   PTXFMHA_SM(PTXFMHA_FIELD(SM90_DECODE_COMBINE_ARCH_, name)),                                  \
   kind,                                                                                        \
   PTXFMHA_FIELD(SM90_DECODE_COMBINE_HEAD_DIM_, name),                                          \
   SM90_DECODE_COMBINE_BLOCK_M,                                                                 \
   SM90_DECODE_COMBINE_BLOCK_N,                                                                 \
   SM90_DECODE_COMBINE_THREADS,                                                                 \
   0,                                                                                           \
   kDecodeParamBytes},
#define PTXFMHA_DECODE_SPLIT_ROW(name) PTXFMHA_DECODE_SPLIT_ROW_K(name, KernelKind::Decode)
#define PTXFMHA_DECODE_VARIANT_ROW(name) PTXFMHA_DECODE_SPLIT_ROW_K(name, KernelKind::DecodeVariant)
#define PTXFMHA_DECODE_COMBINE_ROW(name) PTXFMHA_DECODE_COMBINE_ROW_K(name, KernelKind::DecodeCombine)
#define PTXFMHA_DECODE_COMBINE_VARIANT_ROW(name)                                                \
  PTXFMHA_DECODE_COMBINE_ROW_K(name, KernelKind::DecodeCombineVariant)
// The rows of architecture folder ARCH (a bare token: sm90a, sm100a): the default split
// kernels, their combine kernels, then the variants (find_kernel takes the first row of a
// kind, so the defaults are the Decode / DecodeCombine rows).
#define PTXFMHA_DECODE_ROWS(ARCH)                                                               \
  SM90_DECODE_KERNELS_##ARCH(PTXFMHA_DECODE_SPLIT_ROW)                                          \
  SM90_DECODE_COMBINE_KERNELS_##ARCH(PTXFMHA_DECODE_COMBINE_ROW)                                \
  SM90_DECODE_VARIANTS_##ARCH(PTXFMHA_DECODE_VARIANT_ROW)                                       \
  SM90_DECODE_COMBINE_VARIANTS_##ARCH(PTXFMHA_DECODE_COMBINE_VARIANT_ROW)

// The decode facts of each row (DecodeRowFacts, decode_rows.h), in the same order.
#define PTXFMHA_DECODE_SPLIT_FACTS(name)                                                        \
  {#name, false, PTXFMHA_FIELD(SM90_DECODE_HEAD_DIM_, name), PTXFMHA_FIELD(SM90_DECODE_STAGES_, name), \
   PTXFMHA_FIELD(SM90_DECODE_KV_BYTES_, name), PTXFMHA_FIELD(SM90_DECODE_FEATURES_, name),      \
   PTXFMHA_FIELD(SM90_DECODE_L2_HINT_, name), 0, PTXFMHA_FIELD(SM90_DECODE_HEADS_, name),          \
   PTXFMHA_FIELD(SM90_DECODE_CLUSTER_, name), PTXFMHA_FIELD(SM90_DECODE_WG_, name),                \
   PTXFMHA_FIELD(SM90_DECODE_HANDOUT_, name)},
#define PTXFMHA_DECODE_COMBINE_FACTS(name)                                                      \
  {#name, true, PTXFMHA_FIELD(SM90_DECODE_COMBINE_HEAD_DIM_, name), 0, 0, 0, 0,                 \
   PTXFMHA_FIELD(SM90_DECODE_COMBINE_SINK_, name), 1, 0, 0, 0},
#define PTXFMHA_DECODE_FACT_ROWS(ARCH)                                                          \
  SM90_DECODE_KERNELS_##ARCH(PTXFMHA_DECODE_SPLIT_FACTS)                                        \
  SM90_DECODE_COMBINE_KERNELS_##ARCH(PTXFMHA_DECODE_COMBINE_FACTS)                              \
  SM90_DECODE_VARIANTS_##ARCH(PTXFMHA_DECODE_SPLIT_FACTS)                                       \
  SM90_DECODE_COMBINE_VARIANTS_##ARCH(PTXFMHA_DECODE_COMBINE_FACTS)
