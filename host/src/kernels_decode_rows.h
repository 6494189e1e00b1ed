// The decode kernel rows, written once: the same split-KV decode and combine bodies
// (ptx/include/decode_split.ptxh, decode_combine.ptxh) are assembled for every architecture
// folder, so each kernels_decode_<arch>.cpp instantiates this list with its folder and SM.
// Each row mirrors the KERNEL_* macros of its ptx/<arch>/<name>.ptx; tests/ check the two agree.
//
// fmha_decode_d*_<arch>         split-KV decode: 160 threads (4 consumer warps + 1 TMA producer
//                               warp), up to 64 packed query rows (block_m) per CTA, 64-key
//                               tiles (block_n).
// fmha_decode_combine_d*_<arch> merge of the split partials: 32 threads, one warp = one CTA per
//                               output row (block_m = 1), no shared memory, no key tiles.
#pragma once
#include "decode_abi.h"
#include "kernel_table.h"

namespace ptxfmha {

constexpr int kDecodeParamBytes = static_cast<int>(sizeof(DecodeKernelParams));
// Shared memory of the split kernel, bytes: 1024 alignment slack + stages x (K tile + V tile
// of 64 keys x head_dim x 2 bytes) + 128 bytes of mbarriers (8 full + 8 empty slots).
constexpr int decode_smem_bytes(int head_dim, int stages) {
  return 1024 + stages * 2 * 64 * head_dim * 2 + 128;
}

}  // namespace ptxfmha

// ARCH: the folder as a string literal ("sm90a"), SM: the compute capability it runs on.
// clang-format off
#define PTXFMHA_DECODE_ROWS(ARCH, SM)                                                                          \
  {"fmha_decode_d64_" ARCH, ARCH, SM, KernelKind::Decode, 64, 64, 64, 160, decode_smem_bytes(64, 4), kDecodeParamBytes},    \
  {"fmha_decode_d128_" ARCH, ARCH, SM, KernelKind::Decode, 128, 64, 64, 160, decode_smem_bytes(128, 3), kDecodeParamBytes}, \
  {"fmha_decode_d256_" ARCH, ARCH, SM, KernelKind::Decode, 256, 64, 64, 160, decode_smem_bytes(256, 3), kDecodeParamBytes}, \
  {"fmha_decode_combine_d64_" ARCH, ARCH, SM, KernelKind::DecodeCombine, 64, 1, 0, 32, 0, kDecodeParamBytes},               \
  {"fmha_decode_combine_d128_" ARCH, ARCH, SM, KernelKind::DecodeCombine, 128, 1, 0, 32, 0, kDecodeParamBytes},             \
  {"fmha_decode_combine_d256_" ARCH, ARCH, SM, KernelKind::DecodeCombine, 256, 1, 0, 32, 0, kDecodeParamBytes}
// clang-format on
