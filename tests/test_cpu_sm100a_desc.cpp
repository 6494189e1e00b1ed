// CPU tests of the sm_100a descriptor encoders (host/src/sm100_desc.h).
//
// Expected values come from two independent places, cited at each check:
//   [ISA-ID]  PTX ISA, tcgen05 "Instruction descriptor", table "Instruction descriptor format for
//             .kind::tf32, .kind::f16, .kind::f8f6f4 and .kind::i8" (bit ranges per field).
//   [ISA-SD]  PTX ISA, tcgen05 "Shared memory descriptor", table "Shared memory descriptor
//             layout" (0-13 start >> 4, 16-29 LBO >> 4, 32-45 SBO >> 4, 46-48 fixed 0b001,
//             49-51 base offset, 52 LBO mode, 53-60 fixed 0, 61-63 swizzle 0/1/2/4/6).
//   [ISA-ST]  PTX ISA, tcgen05 "Major-ness supported by Strides" (LBO/SBO meaning per major-ness).
//   [ISA-SH]  PTX ISA, tcgen05 "Matrix Shape", table "Various combinations of .kind and shapes".
//   [CUTLASS] NVIDIA/cutlass at commit 7107b05535f8977f5ecb9d01ee203205b1fd9bc4:
//             values printed by a throwaway host program (not in this repository) that called
//             cute::UMMA::make_instr_desc<A, B, float, M, N, a_major, b_major>() and
//             cute::UMMA::make_umma_desc<major>() from include/cute/arch/mma_sm100_desc.hpp on
//             UMMA::Layout_K_SW128_Atom / Layout_MN_SW128_Atom<bfloat16_t> tiles (on the host
//             CUTLASS's smem address cast yields 0, so the start-address field is 0).
#include <doctest/doctest.h>

#include <cstdint>
#include <initializer_list>

#include "sm100_desc.h"

namespace s = ptxfmha::sm100;
using s::AccType;
using s::F16Type;
using s::Major;
using s::Swizzle;

TEST_CASE("sm100 idesc: each kind::f16 field lands on the bits of the ISA table") {
  // [ISA-ID] field by field, every other field zero (M = 64 is the smallest legal M: bit 26).
  const uint32_t base = s::instr_desc_f16(64, 8, F16Type::F16, F16Type::F16, AccType::F16, Major::K, Major::K);
  CHECK(base == ((8u >> 3) << 17 | (64u >> 4) << 24));
  CHECK(base == 0x04020000u);
  // D format F32 = 1 at bits 4-5
  CHECK((s::instr_desc_f16(64, 8, F16Type::F16, F16Type::F16, AccType::F32, Major::K, Major::K) ^ base) == 0x10u);
  // A format BF16 = 1 at bits 7-9
  CHECK((s::instr_desc_f16(64, 8, F16Type::BF16, F16Type::F16, AccType::F16, Major::K, Major::K) ^ base) == 0x80u);
  // B format BF16 = 1 at bits 10-12
  CHECK((s::instr_desc_f16(64, 8, F16Type::F16, F16Type::BF16, AccType::F16, Major::K, Major::K) ^ base) == 0x400u);
  // negate A bit 13, negate B bit 14
  CHECK((s::instr_desc_f16(64, 8, F16Type::F16, F16Type::F16, AccType::F16, Major::K, Major::K, true, false) ^ base) == 0x2000u);
  CHECK((s::instr_desc_f16(64, 8, F16Type::F16, F16Type::F16, AccType::F16, Major::K, Major::K, false, true) ^ base) == 0x4000u);
  // transpose (MN-major) A bit 15, B bit 16
  CHECK((s::instr_desc_f16(64, 8, F16Type::F16, F16Type::F16, AccType::F16, Major::MN, Major::K) ^ base) == 0x8000u);
  CHECK((s::instr_desc_f16(64, 8, F16Type::F16, F16Type::F16, AccType::F16, Major::K, Major::MN) ^ base) == 0x10000u);
  // N >> 3 at bits 17-22: N = 256 -> 32 -> bit 22 only
  CHECK((s::instr_desc_f16(64, 256, F16Type::F16, F16Type::F16, AccType::F16, Major::K, Major::K) & (0x3Fu << 17)) == (1u << 22));
  // M >> 4 at bits 24-28 (bit 23 is reserved): M = 128 -> 8 -> bit 27 only. An M field
  // starting at bit 23 would halve M (lesson 3 of ../shared/reference/PTX_NOTES.md).
  const uint32_t m128 = s::instr_desc_f16(128, 8, F16Type::F16, F16Type::F16, AccType::F16, Major::K, Major::K);
  CHECK((m128 & (0x1Fu << 24)) == (1u << 27));
  CHECK((m128 & (1u << 23)) == 0u);
}

TEST_CASE("sm100 idesc: the forward kernels' descriptors equal CUTLASS make_instr_desc") {
  // [CUTLASS] make_instr_desc<bfloat16_t, bfloat16_t, float, M, N, a_major, b_major>()
  CHECK(s::instr_desc_f16(128, 128, F16Type::BF16, F16Type::BF16, AccType::F32, Major::K, Major::K) == 0x08200490u);
  CHECK(s::instr_desc_f16(128, 64, F16Type::BF16, F16Type::BF16, AccType::F32, Major::K, Major::K) == 0x08100490u);
  CHECK(s::instr_desc_f16(128, 64, F16Type::BF16, F16Type::BF16, AccType::F32, Major::K, Major::MN) == 0x08110490u);
  CHECK(s::instr_desc_f16(128, 128, F16Type::BF16, F16Type::BF16, AccType::F32, Major::K, Major::MN) == 0x08210490u);
  CHECK(s::instr_desc_f16(128, 256, F16Type::BF16, F16Type::BF16, AccType::F32, Major::K, Major::MN) == 0x08410490u);
  CHECK(s::instr_desc_f16(64, 64, F16Type::BF16, F16Type::BF16, AccType::F32, Major::K, Major::K) == 0x04100490u);
  // [CUTLASS] make_instr_desc<half_t, half_t, float, 128, 128, K, K>(): f16 differs from bf16
  // only in the A/B format fields.
  CHECK(s::instr_desc_f16(128, 128, F16Type::F16, F16Type::F16, AccType::F32, Major::K, Major::K) == 0x08200010u);

  // The kernels' two GEMMs (S = Q K^T: both K-major; O += P V: B = V MN-major).
  CHECK(s::fwd_idesc_qk(128) == 0x08200490u);
  CHECK(s::fwd_idesc_qk(64) == 0x08100490u);
  CHECK(s::fwd_idesc_pv(64) == 0x08110490u);
  CHECK(s::fwd_idesc_pv(128) == 0x08210490u);
  CHECK(s::fwd_idesc_pv(256) == 0x08410490u);
}

TEST_CASE("sm100 idesc: decode inverts encode, reserved bits stay zero") {
  for (int m : {64, 128}) {
    for (int n = 8; n <= 256; n += 8) {
      for (Major am : {Major::K, Major::MN}) {
        for (Major bm : {Major::K, Major::MN}) {
          const uint32_t v = s::instr_desc_f16(m, n, F16Type::BF16, F16Type::F16, AccType::F32, am, bm, n % 16 == 0, m == 64);
          const s::InstrDescFields f = s::decode_instr_desc(v);
          CHECK(f.m == static_cast<uint32_t>(m));
          CHECK(f.n == static_cast<uint32_t>(n));
          CHECK(f.a_format == 1u);
          CHECK(f.b_format == 0u);
          CHECK(f.d_format == 1u);
          CHECK(f.a_major == static_cast<uint32_t>(am));
          CHECK(f.b_major == static_cast<uint32_t>(bm));
          CHECK(f.negate_a == (n % 16 == 0 ? 1u : 0u));
          CHECK(f.negate_b == (m == 64 ? 1u : 0u));
          CHECK(f.sparse == 0u);
          CHECK(f.sparse_id == 0u);
          CHECK(f.saturate == 0u);
          CHECK(f.max_shift == 0u);
          CHECK(f.reserved == 0u);
        }
      }
    }
  }
}

TEST_CASE("sm100 idesc: legal kind::f16 shapes for cta_group::1 without .ws") {
  // [ISA-SH] dense, .f32 D, .f16/.bf16 A/B: 64xNxK and 128xNxK, N = 8..256 step 8, K = 16.
  CHECK(s::mma_f16_shape_ok(128, 128));
  CHECK(s::mma_f16_shape_ok(128, 256));
  CHECK(s::mma_f16_shape_ok(128, 8));
  CHECK(s::mma_f16_shape_ok(64, 64));
  CHECK_FALSE(s::mma_f16_shape_ok(128, 264));
  CHECK_FALSE(s::mma_f16_shape_ok(128, 12));
  CHECK_FALSE(s::mma_f16_shape_ok(128, 0));
  CHECK_FALSE(s::mma_f16_shape_ok(256, 128));  // M = 256 needs cta_group::2
  CHECK_FALSE(s::mma_f16_shape_ok(32, 64));    // M = 32 only with .ws
}

TEST_CASE("sm100 smem desc: each field lands on the bits of the ISA table") {
  // [ISA-SD] start address 0x12340 -> 0x1234 in bits 0-13
  CHECK((s::smem_desc(0x12340, 0, 0, Swizzle::None) & 0x3FFFu) == 0x1234u);
  // LBO 0x100 -> 0x10 in bits 16-29; SBO 1024 -> 64 in bits 32-45
  CHECK(((s::smem_desc(0, 0x100, 0, Swizzle::None) >> 16) & 0x3FFFu) == 0x10u);
  CHECK(((s::smem_desc(0, 0, 1024, Swizzle::None) >> 32) & 0x3FFFu) == 64u);
  // bits 46-48: fixed constant 0b001 (sm_90 wgmma descriptors have no such field)
  CHECK(s::smem_desc(0, 0, 0, Swizzle::None) == (uint64_t{1} << 46));
  // base offset bits 49-51, LBO mode bit 52
  CHECK((s::smem_desc(0, 0, 0, Swizzle::None, 5) ^ (uint64_t{1} << 46)) == (uint64_t{5} << 49));
  CHECK((s::smem_desc(0, 0, 0, Swizzle::None, 0, true) ^ (uint64_t{1} << 46)) == (uint64_t{1} << 52));
  // swizzle at bits 61-63: 0 none, 1 128B with 32B atoms, 2 128B, 4 64B, 6 32B
  const uint64_t v = uint64_t{1} << 46;
  CHECK((s::smem_desc(0, 0, 0, Swizzle::B128Base32B) ^ v) == 0x2000000000000000ull);
  CHECK((s::smem_desc(0, 0, 0, Swizzle::B128) ^ v) == 0x4000000000000000ull);
  CHECK((s::smem_desc(0, 0, 0, Swizzle::B64) ^ v) == 0x8000000000000000ull);
  CHECK((s::smem_desc(0, 0, 0, Swizzle::B32) ^ v) == 0xC000000000000000ull);
  // matrix-descriptor-encode(x) = (x & 0x3FFFF) >> 4
  CHECK(s::desc_encode(0x40000u + 0x10u) == 1u);
  CHECK(s::desc_encode(0x3FFF0u) == 0x3FFFu);
  CHECK(s::smem_desc_aligned(1024, 16, 1024));
  CHECK_FALSE(s::smem_desc_aligned(1032 + 4, 16, 1024));
}

TEST_CASE("sm100 smem desc: K-major and MN-major 128B-swizzle descriptors equal CUTLASS make_umma_desc") {
  // [CUTLASS] make_umma_desc<UMMA::Major::K> of tile_to_shape(Layout_K_SW128_Atom<bf16>, (128, 64)):
  // LBO encoded 1 (unused for swizzled K-major, [ISA-ST] "assumed to be 1"), SBO 1024, version 1,
  // layout 2 (SWIZZLE_128B).
  CHECK(s::kmajor_sw128_desc(0) == 0x4000404000010000ull);
  // [CUTLASS] make_umma_desc<UMMA::Major::MN> of the (N = 128, K = 16) slice of
  // tile_to_shape(Layout_MN_SW128_Atom<bf16>, (128, 128), Step<_2,_1>) - the V tile of the
  // d128 kernels: 64-column chunks 16384 bytes apart (LBO, [ISA-ST] MN-major swizzled: "stride
  // from the first (swizzle-byte-size/16) rows to the next"), 8-key groups 1024 apart (SBO).
  CHECK(s::mnmajor_sw128_desc(0, 128) == 0x4000404004000000ull);
  // [CUTLASS] the same for (N = 256, K = 16) of a (256, 64) tile: LBO 8192 (d256, block_n 64).
  CHECK(s::mnmajor_sw128_desc(0, 64) == 0x4000404002000000ull);
  // The start address is the only run-time field: it is OR-ed (added) into bits 0-13.
  CHECK(s::kmajor_sw128_desc(0x9000) == (0x4000404000010000ull | (0x9000u >> 4)));
  const s::SmemDescFields f = s::decode_smem_desc(s::mnmajor_sw128_desc(0x8400, 128));
  CHECK(f.start_bytes == 0x8400u);
  CHECK(f.lbo_bytes == 16384u);
  CHECK(f.sbo_bytes == 1024u);
  CHECK(f.version == 1u);
  CHECK(f.base_offset == 0u);
  CHECK(f.lbo_mode == 0u);
  CHECK(f.swizzle == static_cast<uint32_t>(Swizzle::B128));
  CHECK(f.reserved == 0u);
}

TEST_CASE("sm100 smem desc: K-step offsets inside TMA-written tiles") {
  // K-major (Q, K, P): 16 bf16 = 32 bytes per step inside a 128-byte row, 4 steps per 64-wide
  // box, then the next box (rows x 128 bytes further).
  const uint32_t q128[8] = {0, 32, 64, 96, 16384, 16416, 16448, 16480};
  for (int k = 0; k < 8; ++k) CHECK(s::kmajor_sw128_kstep_bytes(k, 128) == q128[k]);
  CHECK(s::kmajor_sw128_kstep_bytes(15, 64) == 3u * 8192u + 96u);
  // MN-major (V): 16 keys = two 8-row groups of 1024 bytes per step.
  for (int k = 0; k < 8; ++k) CHECK(s::mnmajor_sw128_kstep_bytes(k) == 2048u * static_cast<uint32_t>(k));
}

TEST_CASE("sm100 TMEM address: lane << 16 | column, allocation sizes, packed A columns") {
  CHECK(s::tmem_addr(0, 0) == 0u);
  CHECK(s::tmem_addr(0, 256) == 0x100u);
  CHECK(s::tmem_addr(32, 0) == 0x00200000u);   // warp 1's lane quarter
  CHECK(s::tmem_addr(96, 0) == 0x00600000u);   // warp 3's lane quarter
  CHECK(s::tmem_addr(127, 511) == 0x007F01FFu);
  CHECK(s::tmem_lane(s::tmem_addr(77, 300)) == 77u);
  CHECK(s::tmem_column(s::tmem_addr(77, 300)) == 300u);
  for (uint32_t c : {32u, 64u, 128u, 256u, 512u}) CHECK(s::tmem_alloc_cols_ok(c));
  for (uint32_t c : {0u, 16u, 96u, 384u, 1024u}) CHECK_FALSE(s::tmem_alloc_cols_ok(c));
  // Lesson 2 of ../shared/reference/PTX_NOTES.md: an A operand in TMEM holds two 16-bit values
  // per 32-bit column, so K = 16 is 8 columns and a 128-key P tile 64 columns.
  CHECK(s::tmem_a_f16_cols(16) == 8u);
  CHECK(s::tmem_a_f16_cols(128) == 64u);
}
