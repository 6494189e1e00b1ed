// Host-side encoders for the sm_100a (Blackwell, tcgen05) descriptors the forward kernels use.
//
// The kernels in ptx/sm100a/ build the same values from #define'd immediates; tests/test_sm100a_*
// parse those macros (cpp -dM) and compare them with what these functions produce for the
// kernel's shapes, so a descriptor is never known in two places without a test that ties them.
//
// Sources for every bit position (checked, not copied):
//   * PTX ISA, tcgen05 chapter: "Instruction descriptor" (table "Instruction descriptor format
//     for .kind::tf32, .kind::f16, .kind::f8f6f4 and .kind::i8"), "Shared memory descriptor"
//     (table "Shared memory descriptor layout"), "Major-ness supported by Strides" (what LBO and
//     SBO mean for K-major and MN-major operands), "Tensor Memory" (address = lane << 16 | column).
//   * CUTLASS include/cute/arch/mma_sm100_desc.hpp (UMMA::InstrDescriptor, UMMA::SmemDescriptor,
//     make_umma_desc), which lays out the same fields as C bit-fields.
//
// Everything here is constexpr and header-only: no CUDA, no device.
#pragma once
#include <cstdint>

namespace ptxfmha {
namespace sm100 {

// ---- instruction descriptor (32 bit), .kind::f16 ----------------------------------------------
// bits  0-1  sparsity selector (0: dense)       bit  2  sparsity (0: dense)
// bit   3    saturate (integer kinds only, 0)   bits 4-5  D format: 0 F16, 1 F32
// bit   6    reserved                           bits 7-9  A format: 0 F16, 1 BF16
// bits 10-12 B format: 0 F16, 1 BF16            bit 13 negate A      bit 14 negate B
// bit  15    A major: 0 K-major, 1 MN-major     bit 16 B major: 0 K-major, 1 MN-major
// bits 17-22 N >> 3                             bit 23 reserved
// bits 24-28 M >> 4                             bit 29 reserved      bits 30-31 max shift (.ws only, 0)
enum class Major : uint32_t { K = 0, MN = 1 };
enum class F16Type : uint32_t { F16 = 0, BF16 = 1 };
enum class AccType : uint32_t { F16 = 0, F32 = 1 };

// Shapes tcgen05.mma.cta_group::1.kind::f16 accepts without .ws, dense (PTX ISA table "Various
// combinations of .kind and shapes"): M = 64 or 128, N = 8 ... 256 in steps of 8, K = 16.
constexpr bool mma_f16_shape_ok(int m, int n) {
  return (m == 64 || m == 128) && n >= 8 && n <= 256 && n % 8 == 0;
}

constexpr uint32_t instr_desc_f16(int m, int n, F16Type a, F16Type b, AccType d, Major a_major,
                                  Major b_major, bool negate_a = false, bool negate_b = false) {
  return (static_cast<uint32_t>(d) << 4) | (static_cast<uint32_t>(a) << 7) |
         (static_cast<uint32_t>(b) << 10) | (static_cast<uint32_t>(negate_a) << 13) |
         (static_cast<uint32_t>(negate_b) << 14) | (static_cast<uint32_t>(a_major) << 15) |
         (static_cast<uint32_t>(b_major) << 16) | ((static_cast<uint32_t>(n) >> 3) << 17) |
         ((static_cast<uint32_t>(m) >> 4) << 24);
}

struct InstrDescFields {
  uint32_t sparse_id, sparse, saturate, d_format, a_format, b_format, negate_a, negate_b;
  uint32_t a_major, b_major, n, m, max_shift;
  uint32_t reserved;  // bits 6, 23, 29 (must be 0)
};

constexpr InstrDescFields decode_instr_desc(uint32_t v) {
  return InstrDescFields{v & 3u,
                         (v >> 2) & 1u,
                         (v >> 3) & 1u,
                         (v >> 4) & 3u,
                         (v >> 7) & 7u,
                         (v >> 10) & 7u,
                         (v >> 13) & 1u,
                         (v >> 14) & 1u,
                         (v >> 15) & 1u,
                         (v >> 16) & 1u,
                         ((v >> 17) & 0x3fu) << 3,
                         ((v >> 24) & 0x1fu) << 4,
                         (v >> 30) & 3u,
                         v & ((1u << 6) | (1u << 23) | (1u << 29))};
}

// The forward kernels' two GEMMs, both bf16 x bf16 -> f32 with M = 128 query rows:
//   S = Q K^T : A = Q (K-major: head_dim contiguous), B = K (K-major), N = block_n keys.
//   O += P V  : A = P (K-major: keys along TMEM columns or along the smem row),
//               B = V (MN-major: head_dim, the N dimension, contiguous), N = head_dim.
constexpr uint32_t fwd_idesc_qk(int block_n) {
  return instr_desc_f16(128, block_n, F16Type::BF16, F16Type::BF16, AccType::F32, Major::K, Major::K);
}
constexpr uint32_t fwd_idesc_pv(int head_dim) {
  return instr_desc_f16(128, head_dim, F16Type::BF16, F16Type::BF16, AccType::F32, Major::K,
                        Major::MN);
}

// ---- shared-memory matrix descriptor (64 bit), sm_100 ----------------------------------------
// bits  0-13 start address >> 4        bits 14-15 reserved
// bits 16-29 leading byte offset >> 4  bits 30-31 reserved
// bits 32-45 stride byte offset >> 4   bits 46-48 fixed 0b001 (the "version" CUTLASS sets to 1;
//                                                 sm_90 wgmma descriptors have no such field)
// bits 49-51 matrix base offset        bit  52    LBO mode: 0 relative offset, 1 absolute address
// bits 53-60 fixed 0                   bits 61-63 swizzle: 0 none, 1 128B with 32B atoms,
//                                                 2 128B, 4 64B, 6 32B (3, 5, 7 invalid)
// matrix-descriptor-encode(x) = (x & 0x3FFFF) >> 4: addresses and offsets are 16-byte aligned.
enum class Swizzle : uint32_t { None = 0, B128Base32B = 1, B128 = 2, B64 = 4, B32 = 6 };

constexpr uint64_t desc_encode(uint32_t bytes) { return (bytes & 0x3FFFFu) >> 4; }

constexpr uint64_t smem_desc(uint32_t start_bytes, uint32_t lbo_bytes, uint32_t sbo_bytes,
                             Swizzle swizzle, uint32_t base_offset = 0,
                             bool lbo_absolute = false) {
  return desc_encode(start_bytes) | (desc_encode(lbo_bytes) << 16) | (desc_encode(sbo_bytes) << 32) |
         (uint64_t{1} << 46) | (uint64_t{base_offset & 7u} << 49) |
         (uint64_t{lbo_absolute ? 1u : 0u} << 52) | (uint64_t{static_cast<uint32_t>(swizzle)} << 61);
}

constexpr bool smem_desc_aligned(uint32_t start_bytes, uint32_t lbo_bytes, uint32_t sbo_bytes) {
  return start_bytes % 16 == 0 && lbo_bytes % 16 == 0 && sbo_bytes % 16 == 0;
}

struct SmemDescFields {
  uint32_t start_bytes, lbo_bytes, sbo_bytes, version, base_offset, lbo_mode, swizzle;
  uint64_t reserved;  // bits 14-15, 30-31, 53-60 (must be 0)
};

constexpr SmemDescFields decode_smem_desc(uint64_t v) {
  return SmemDescFields{static_cast<uint32_t>(v & 0x3FFFu) << 4,
                        static_cast<uint32_t>((v >> 16) & 0x3FFFu) << 4,
                        static_cast<uint32_t>((v >> 32) & 0x3FFFu) << 4,
                        static_cast<uint32_t>((v >> 46) & 7u),
                        static_cast<uint32_t>((v >> 49) & 7u),
                        static_cast<uint32_t>((v >> 52) & 1u),
                        static_cast<uint32_t>((v >> 61) & 7u),
                        v & ((uint64_t{3} << 14) | (uint64_t{3} << 30) | (uint64_t{0xFF} << 53))};
}

// Layouts the forward kernels use. Every tile is written by TMA with 128-byte swizzle in boxes
// of 64 bf16 (128 bytes) x rows, boxes of one tile stacked one after another, each box starting
// on a 1024-byte boundary (so the base offset is 0).
constexpr uint32_t kSwizzleAtomBytes = 1024;  // 8 rows x 128 bytes: the 128B-swizzle pattern
constexpr uint32_t kBoxRowBytes = 128;        // 64 bf16 per row of a box
constexpr uint32_t kBoxElems = 64;

// K-major operand (Q, K; and P in shared memory): row r of the tile is an M or N index, the 64
// K values of one box lie along the 128-byte row. SBO = 1024 (next 8-row group); LBO is unused
// for swizzled K-major layouts ("assumed to be 1") and set to 16 bytes (encoded 1) as CUTLASS does.
constexpr uint64_t kmajor_sw128_desc(uint32_t start_bytes) {
  return smem_desc(start_bytes, 16, kSwizzleAtomBytes, Swizzle::B128);
}
// Byte offset of MMA K-step `kstep` (16 bf16 = 32 bytes) inside a K-major tile of `rows` rows
// stored as boxes of 64 K values: 4 steps per box, then the next box (rows * 128 bytes on).
constexpr uint32_t kmajor_sw128_kstep_bytes(int kstep, int rows) {
  return static_cast<uint32_t>(kstep % 4) * 32u +
         static_cast<uint32_t>(kstep / 4) * static_cast<uint32_t>(rows) * kBoxRowBytes;
}

// MN-major operand (V as the B of O += P V: N = head_dim contiguous, K = keys along rows).
// LBO = byte distance between consecutive 64-wide N chunks (the next TMA box: rows * 128 bytes);
// SBO = byte distance between consecutive 8-key groups (1024).
constexpr uint64_t mnmajor_sw128_desc(uint32_t start_bytes, int rows) {
  return smem_desc(start_bytes, static_cast<uint32_t>(rows) * kBoxRowBytes, kSwizzleAtomBytes,
                   Swizzle::B128);
}
// Byte offset of MMA K-step `kstep` (16 keys = two 8-row groups) inside that V tile.
constexpr uint32_t mnmajor_sw128_kstep_bytes(int kstep) {
  return static_cast<uint32_t>(kstep) * 2u * kSwizzleAtomBytes;
}

// ---- Tensor Memory address (32 bit) -----------------------------------------------------------
// bits 31-16 lane (0..127), bits 15-0 column (0..511). One warp may access only the lanes of its
// quarter: lanes 32 * (warp_id % 4) ... + 31.
constexpr uint32_t kTmemLanes = 128;
constexpr uint32_t kTmemColumns = 512;
constexpr uint32_t tmem_addr(uint32_t lane, uint32_t column) { return (lane << 16) | column; }
constexpr uint32_t tmem_lane(uint32_t addr) { return addr >> 16; }
constexpr uint32_t tmem_column(uint32_t addr) { return addr & 0xFFFFu; }
// tcgen05.alloc: a power of two >= 32 columns, at most 512.
constexpr bool tmem_alloc_cols_ok(uint32_t cols) {
  return cols >= 32 && cols <= kTmemColumns && (cols & (cols - 1)) == 0;
}
// TMEM columns of an A operand of tcgen05.mma .kind::f16 held in Tensor Memory: two 16-bit
// values per 32-bit column, so K = 16 takes 8 columns and a P tile of block_n keys block_n / 2.
constexpr uint32_t tmem_a_f16_cols(int k) { return static_cast<uint32_t>(k) / 2u; }

}  // namespace sm100
}  // namespace ptxfmha
