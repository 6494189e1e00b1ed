// The kernel table: one row per kernel, i.e. per .ptx file and per cubin.
// Rows come from the kernel manifests (ptx/manifest/<family>.h: one row per kernel, the same row
// the kernel's .ptx stub takes its KERNEL_* facts from), expanded in kernels_<arch>.cpp, with the
// shared-memory size from the family's layout header. tests/ tie every row to its .ptx source
// (the KERNEL_* facts as the preprocessor sees them, its .param block, its .maxntid), to its
// cubin and to independent shared-memory formulas.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ptxfmha {

enum class KernelKind {
  Fwd, Decode, DecodeCombine, BwdPre, Bwd, BwdPost,
  // Decode kernels other than the default of their head dim (e4m3 cache, serving features,
  // A/B levers; combine with sinks): picked by their facts (decode_rows.h), never by find_kernel.
  DecodeVariant, DecodeCombineVariant
};

struct KernelInfo {
  const char* name;     // entry symbol == cubin base name, e.g. "fmha_fwd_d128_sm90a"
  const char* arch;     // cubin subdirectory and ptxas target folder: "sm90a" or "sm100a"
  int sm;               // compute capability major*10+minor it runs on: 90 or 100
  KernelKind kind;
  int head_dim;
  int block_m;          // query rows per CTA tile
  int block_n;          // key rows per KV tile
  int threads;          // threads per CTA (== .maxntid)
  int smem_bytes;       // dynamic shared memory, bytes (== KERNEL_SMEM_BYTES)
  int param_bytes;      // size of the single .param block, bytes
  // Grid shape the kernel expects (forward kernels):
  //   GridMHB   grid (num_m_blocks, heads_q, batch), one work tile per CTA
  //   TileLoop  1-D grid; CTA c takes work tile c, then (FwdKernelParams::tile_counter
  //             != 0) gridDim.x + the next value of the device counter, else c + gridDim.x,
  //             c + 2 gridDim.x, ...; tiles in the order set by head_group. Any grid size
  //             from 1 to total_tiles is correct. The host launches min(total_tiles, #SMs)
  //             CTAs (persistent): static for uniform (non-causal) tiles, with the stream's
  //             counter for causal; total_tiles CTAs for causal without a counter (graph
  //             capture), where the hardware's in-order dispatch balances the tiles.
  enum class Grid { GridMHB, TileLoop } grid = Grid::GridMHB;
  // Serving features (AttnFeature bits, attn_kernel_abi.h) the kernel implements; 0 for the
  // plain kernels. ptxfmha_attn picks the row of the device's arch and head dim with the
  // fewest extra bits that covers a call's features (attn.cpp).
  uint32_t features = 0;
  // 128-row Q tiles per CTA tile (sm100a two-tile forward: 2): the Q tensor map's box is
  // block_m / q_tiles rows, one box per Q tile and 64 columns (fwd_plan.cpp).
  int q_tiles = 1;
  // TileLoop kernels that take causal tiles from the stream's tile counter (sm90a). false: the
  // kernel walks the static order only, and causal problems get one CTA per tile (heaviest
  // first), never a counter (sm100a two-tile forward).
  bool tile_counter = true;
};

struct KernelTable {
  const KernelInfo* rows;
  std::size_t count;
};

// Rows per architecture and family; each lives in its own file so that kernels of one
// family can be added without touching another's rows.
KernelTable fwd_kernels_sm90a();      // kernels_sm90a.cpp
KernelTable decode_kernels_sm90a();   // kernels_decode_sm90a.cpp
KernelTable fwd_kernels_sm100a();     // kernels_sm100a.cpp
KernelTable decode_kernels_sm100a();  // kernels_decode_sm100a.cpp
KernelTable bwd_kernels_sm90a();      // kernels_bwd_sm90a.cpp (BwdPre, Bwd, BwdPost)

}  // namespace ptxfmha
