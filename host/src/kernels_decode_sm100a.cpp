// Kernel table rows for decode kernels on sm100a: the Hopper decode design (TMA + mbarrier +
// mma.sync, all present on sm_100a) assembled for sm_100a from the same bodies
// (ptx/include/decode_*.ptxh) with the same numbers. Each row mirrors the KERNEL_* macros of
// its ptx/sm100a/<name>.ptx; tests/ check the two agree.
//
// fmha_decode_d*_sm100a         split-KV decode (ptx/include/decode_split.ptxh): 160
//                              threads (4 consumer warps + 1 TMA producer warp), up to 64
//                              packed query rows (block_m) per CTA, 64-key tiles (block_n).
// fmha_decode_combine_d*_sm100a merge of the split partials (ptx/include/decode_combine.ptxh):
//                              32 threads, one warp = one CTA per output row (block_m = 1),
//                              no shared memory, no key tiles (block_n = 0).
#include "decode_abi.h"
#include "kernel_table.h"

namespace ptxfmha {

namespace {
constexpr int kDecodeParamBytes = static_cast<int>(sizeof(DecodeKernelParams));
// Shared memory of the split kernel, bytes: 1024 alignment slack + stages x (K tile + V tile
// of 64 keys x head_dim x 2 bytes) + 128 bytes of mbarriers (8 full + 8 empty slots).
constexpr int decode_smem_bytes(int head_dim, int stages) {
  return 1024 + stages * 2 * 64 * head_dim * 2 + 128;
}
const KernelInfo kRows[] = {
    // name                            arch     sm  kind                       D   BM  BN  thr  smem bytes                param bytes
    {"fmha_decode_d64_sm100a", "sm100a", 100, KernelKind::Decode, 64, 64, 64, 160, decode_smem_bytes(64, 4), kDecodeParamBytes},
    {"fmha_decode_d128_sm100a", "sm100a", 100, KernelKind::Decode, 128, 64, 64, 160, decode_smem_bytes(128, 3), kDecodeParamBytes},
    {"fmha_decode_d256_sm100a", "sm100a", 100, KernelKind::Decode, 256, 64, 64, 160, decode_smem_bytes(256, 3), kDecodeParamBytes},
    {"fmha_decode_combine_d64_sm100a", "sm100a", 100, KernelKind::DecodeCombine, 64, 1, 0, 32, 0, kDecodeParamBytes},
    {"fmha_decode_combine_d128_sm100a", "sm100a", 100, KernelKind::DecodeCombine, 128, 1, 0, 32, 0, kDecodeParamBytes},
    {"fmha_decode_combine_d256_sm100a", "sm100a", 100, KernelKind::DecodeCombine, 256, 1, 0, 32, 0, kDecodeParamBytes},
};
}  // namespace

KernelTable decode_kernels_sm100a() { return {kRows, sizeof(kRows) / sizeof(kRows[0])}; }

}  // namespace ptxfmha
