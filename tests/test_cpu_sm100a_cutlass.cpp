// "sm100a cutlass cross-check": every tcgen05 instruction descriptor, every shared-memory
// descriptor of every K-step, every TMEM column offset and the P fragment layout that the sm100a
// forward kernels use, computed with CUTLASS's own encoders and compared with the kernels' macros
// (cpp -dM of ptx/sm100a/fmha_fwd_*.ptx), the preprocessed PTX (the softmax's tcgen05.ld/st and
// bf16x2 packing) and the host encoder (host/src/sm100_desc.h).
//
// CUTLASS: PyPI nvidia-cutlass 4.2.0.0 (tools/deps.d/40-cutlass.sh -> .deps/cutlass), headers under
// cutlass_library/source/include, compiled here on the host with g++ -std=c++17 (tests/tests.mk
// adds -isystem for them and CCCL's libcu++ from the CUDA toolkit, and defines
// PTXFMHA_HAVE_CUTLASS). Without the package this test case is reported skipped, never passed.
// The encoders used, all from CuTe:
//   cute::UMMA::make_instr_desc via MMA_Traits<SM100_MMA_F16BF16_{SS,TS}<bf16, bf16, float, M, N,
//     a_major, b_major>>::idesc_ (cute/atom/mma_traits_sm100.hpp)
//   cute::UMMA::make_umma_desc<Major> via TiledMMA::make_fragment_A/B of partition_A/B of smem
//     tensors laid out with UMMA::Layout_K_SW128_Atom / Layout_MN_SW128_Atom<bf16> (the canonical
//     128B-swizzle K-major and MN-major layouts TMA writes), one descriptor per K-block
//   the TS A-operand TMEM fragment (tmem_frg_1sm<bf16, bf16, NonInterleaved>) of
//     make_fragment_A of SM100_MMA_F16BF16_TS, and the accumulator fragments (make_fragment_C)
//   Copy_Traits<SM100_TMEM_LOAD_32dp32b{N}x> / <SM100_TMEM_STORE_32dp32b{N}x> (tcgen05.ld/st
//     32x32b.xN: thread, register -> TMEM lane, column)
// On the host CuTe's cast of a shared-memory pointer to its 32-bit address is not available, so
// this file supplies one (cvta_shim): addresses are offsets into a host arena standing for the
// 1024-aligned dynamic shared memory window.
//
// What each kernel computes (its Plan, from its macros; the P placement, from its preprocessed
// PTX): tests/sm100a_cutlass_kernel.h. This file: CUTLASS's side and the comparison.
// Table-driven: each kernel family (the serial kernels; the two-tile kernels of
// docs/sm100_fwd_design.md, which define KERNEL_Q_TILES) turns a kernel's macros into rows (GEMM,
// operand, K-step, the kernel's value); new kernels add rows, not code paths. The two-tile
// kernels replaced phase 1's "design rows" (the design's numbers, tests/sm100_model/design.h, are
// tied to their macros by tests/test_cpu_sm100a_twotile.cpp; design_macros() stays for reference).
#include <cstddef>
#include <cstdint>

#if PTXFMHA_HAVE_CUTLASS
#include "cute_host_shim.h"  // the shared-memory address of a host pointer (before CuTe)
#include <cute/atom/copy_traits_sm100.hpp>
#include <cute/atom/mma_traits_sm100.hpp>
#include <cute/tensor.hpp>
#include <cutlass/version.h>
#endif

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ptx_util.h"
#include "sm100_desc.h"
#include "sm100_model/design.h"
#include "sm100_model/ptx_roles.h"

#if PTXFMHA_HAVE_CUTLASS
#include "sm100a_cutlass_kernel.h"

namespace {

using namespace sm100a_xcheck;

using cutlass_xcheck::Tally;

using namespace cute;
using bf16 = cute::bfloat16_t;

using cutlass_xcheck::Arena;

template <class Op>
uint32_t cutlass_idesc() {
  MMA_Traits<Op> tr;
  uint32_t v = 0;
  std::memcpy(&v, &tr.idesc_, sizeof v);
  return v;
}

uint64_t desc_bits(const UMMA::SmemDescriptor& d) { return d.desc_; }

// tcgen05.ld / st 32x32b.xN: thread t, register r -> (lane offset, column offset), from CUTLASS's
// Copy_Traits (ValID: reference bit -> TMEM bit address; DstLayout / SrcLayout: (thread, bit) ->
// reference bit).
template <class Traits, bool Load>
std::pair<int, int> tmem_thread_reg(int t, int r) {
  const int ref = Load ? static_cast<int>(typename Traits::DstLayout{}(t, 32 * r)) : static_cast<int>(typename Traits::SrcLayout{}(t, 32 * r));
  const long long bit = static_cast<long long>(typename Traits::ValID{}(ref));
  const long long dp = 1ll << 21;  // TMEM::DP_b
  return {static_cast<int>(bit / dp), static_cast<int>((bit % dp) / 32)};
}
std::pair<int, int> tmem_32x32b(int n, bool load, int t, int r) {
#define PTXFMHA_X(N)                                                                                  \
  if (n == N)                                                                                          \
    return load ? tmem_thread_reg<Copy_Traits<SM100_TMEM_LOAD_32dp32b##N##x>, true>(t, r)             \
                : tmem_thread_reg<Copy_Traits<SM100_TMEM_STORE_32dp32b##N##x>, false>(t, r);
  PTXFMHA_X(1) PTXFMHA_X(2) PTXFMHA_X(4) PTXFMHA_X(8) PTXFMHA_X(16) PTXFMHA_X(32) PTXFMHA_X(64) PTXFMHA_X(128)
#undef PTXFMHA_X
  throw std::runtime_error("tcgen05 32x32b.x" + std::to_string(n) + ": no CUTLASS traits instantiated here");
}

// Everything CUTLASS computes for one shape family: D head dim, QN = N of one S instruction,
// BN keys per KV tile.
template <int D, int QN, int BN>
void cutlass_compare(const Plan& p, uint32_t base, const Arena& arena, Tally& t) {
  const std::string who = p.name + " @0x" + [&] { std::ostringstream o; o << std::hex << base; return o.str(); }() + ": ";
  // Instruction descriptors.
  using QkOp = SM100_MMA_F16BF16_SS<bf16, bf16, float, 128, QN, UMMA::Major::K, UMMA::Major::K>;
  using PvTs = SM100_MMA_F16BF16_TS<bf16, bf16, float, 128, D, UMMA::Major::K, UMMA::Major::MN>;
  using PvSs = SM100_MMA_F16BF16_SS<bf16, bf16, float, 128, D, UMMA::Major::K, UMMA::Major::MN>;
  const uint32_t id_qk = cutlass_idesc<QkOp>();
  const uint32_t id_pv = p.p_in_smem ? cutlass_idesc<PvSs>() : cutlass_idesc<PvTs>();
  t.cmp(who + "IDESC_QK (kernel)", id_qk, p.idesc_qk);
  t.cmp(who + "IDESC_QK (host encoder)", id_qk, hs::fwd_idesc_qk(QN));
  t.cmp(who + "IDESC_PV (kernel)", id_pv, p.idesc_pv);
  t.cmp(who + "IDESC_PV (host encoder)", id_pv, hs::fwd_idesc_pv(D));

  auto mma_qk = make_tiled_mma(QkOp{});
  auto thr_qk = mma_qk.get_slice(0);
  // A = Q tile(s): (128 x D) K-major, 128B swizzle.
  for (int qt = 0; qt < static_cast<int>(p.q_tiles_off.size()); ++qt) {
    const uint32_t addr = base + p.q_tiles_off[qt];
    auto sQ = make_tensor(make_smem_ptr(arena.at<bf16>(addr)), tile_to_shape(UMMA::Layout_K_SW128_Atom<bf16>{}, make_shape(Int<128>{}, Int<D>{})));
    auto fA = thr_qk.make_fragment_A(thr_qk.partition_A(sQ));
    for (int kk = 0; kk < size<2>(fA); ++kk) {
      const uint64_t c = desc_bits(fA(0, 0, kk));
      t.cmp(who + "Q" + std::to_string(qt) + " desc k-step " + std::to_string(kk), c, p.q_desc(base, qt, kk));
      t.cmp(who + "Q" + std::to_string(qt) + " desc k-step " + std::to_string(kk) + " (host encoder)", c,
            hs::kmajor_sw128_desc(addr + hs::kmajor_sw128_kstep_bytes(kk, 128)));
    }
  }
  // B = K tile of every stage / slot: (BN x D) K-major; half h = rows [h QN, h QN + QN).
  for (int s = 0; s < static_cast<int>(p.k_tiles.size()); ++s) {
    const uint32_t addr = base + p.k_tiles[s];
    auto sK = make_tensor(make_smem_ptr(arena.at<bf16>(addr)), tile_to_shape(UMMA::Layout_K_SW128_Atom<bf16>{}, make_shape(Int<BN>{}, Int<D>{})));
    for (int h = 0; h < BN / QN; ++h) {
      auto sKh = local_tile(sK, make_shape(Int<QN>{}, Int<D>{}), make_coord(h, 0));
      auto fB = thr_qk.make_fragment_B(thr_qk.partition_B(sKh));
      for (int kk = 0; kk < size<2>(fB); ++kk) {
        const uint64_t c = desc_bits(fB(0, 0, kk));
        const std::string w = who + "K tile " + std::to_string(s) + " half " + std::to_string(h) + " k-step " + std::to_string(kk);
        t.cmp(w, c, p.k_desc(base, s, h, kk));
        t.cmp(w + " (host encoder)", c, hs::kmajor_sw128_desc(addr + static_cast<uint32_t>(h * QN * 128) + hs::kmajor_sw128_kstep_bytes(kk, BN)));
      }
    }
  }
  // B = V tile of every stage / slot: N = D contiguous (MN-major), K = BN keys; TMA boxes of 64
  // columns stacked BN * 128 bytes apart (tile_to_shape with the K mode first).
  auto mma_pv = make_tiled_mma(PvTs{});
  auto thr_pv = mma_pv.get_slice(0);
  for (int s = 0; s < static_cast<int>(p.v_tiles.size()); ++s) {
    const uint32_t addr = base + p.v_tiles[s];
    auto sV = make_tensor(make_smem_ptr(arena.at<bf16>(addr)), tile_to_shape(UMMA::Layout_MN_SW128_Atom<bf16>{}, make_shape(Int<D>{}, Int<BN>{}), Step<_2, _1>{}));
    auto fB = thr_pv.make_fragment_B(thr_pv.partition_B(sV));
    // With D = 64 the MMA's N (64 bf16 = 128 bytes) is one 128B-swizzle atom wide: the leading
    // byte offset (next 64-column chunk) is never used. CUTLASS writes 0 there, the kernels and the
    // host encoder BN * 128; that field alone is compared as "don't care" for D = 64 (counted in
    // lbo_unused, reported).
    const uint64_t mask = D == 64 ? ~(uint64_t{0x3FFF} << 16) : ~uint64_t{0};
    for (int kk = 0; kk < size<2>(fB); ++kk) {
      const uint64_t c = desc_bits(fB(0, 0, kk));
      const std::string w = who + "V tile " + std::to_string(s) + " k-step " + std::to_string(kk);
      const uint64_t kd = p.v_desc(base, s, kk), hd = hs::mnmajor_sw128_desc(addr + hs::mnmajor_sw128_kstep_bytes(kk), BN);
      t.cmp(w, c & mask, kd & mask);
      t.cmp(w + " (host encoder)", c & mask, hd & mask);
      if ((c ^ kd) & ~mask) ++t.lbo_unused;
    }
  }
  // A = P in shared memory (_pss_): (128 x BN) K-major.
  if (p.p_in_smem) {
    auto mma_pvs = make_tiled_mma(PvSs{});
    auto thr_pvs = mma_pvs.get_slice(0);
    for (int b = 0; b < static_cast<int>(p.p_bufs.size()); ++b) {
      const uint32_t addr = base + p.p_bufs[b];
      auto sP = make_tensor(make_smem_ptr(arena.at<bf16>(addr)), tile_to_shape(UMMA::Layout_K_SW128_Atom<bf16>{}, make_shape(Int<128>{}, Int<BN>{})));
      auto fA = thr_pvs.make_fragment_A(thr_pvs.partition_A(sP));
      for (int kk = 0; kk < size<2>(fA); ++kk) {
        const uint64_t c = desc_bits(fA(0, 0, kk));
        t.cmp(who + "P smem buffer " + std::to_string(b) + " k-step " + std::to_string(kk), c, p.p_desc(base, b, kk));
        t.cmp(who + "P smem buffer " + std::to_string(b) + " k-step " + std::to_string(kk) + " (host encoder)", c,
              hs::kmajor_sw128_desc(addr + hs::kmajor_sw128_kstep_bytes(kk, 128)));
      }
    }
  }
}

// TMEM columns (independent of the smem base): accumulators and the TS A operand.
template <int D, int QN, int BN>
void cutlass_tmem(const Plan& p, Tally& t, const PPlacement* pp) {
  const std::string who = p.name + ": ";
  using QkOp = SM100_MMA_F16BF16_SS<bf16, bf16, float, 128, QN, UMMA::Major::K, UMMA::Major::K>;
  using PvTs = SM100_MMA_F16BF16_TS<bf16, bf16, float, 128, D, UMMA::Major::K, UMMA::Major::MN>;
  auto mma_qk = make_tiled_mma(QkOp{});
  auto mma_pv = make_tiled_mma(PvTs{});
  auto thr_qk = mma_qk.get_slice(0);
  auto thr_pv = mma_pv.get_slice(0);
  auto tS = thr_qk.make_fragment_C(partition_shape_C(mma_qk, make_shape(Int<128>{}, Int<QN>{})));
  auto tO = thr_pv.make_fragment_C(partition_shape_C(mma_pv, make_shape(Int<128>{}, Int<D>{})));
  auto tP = thr_pv.make_fragment_A(partition_shape_A(mma_pv, make_shape(Int<128>{}, Int<BN>{})));
  auto lane_col = [](uint32_t a) { return std::make_pair(static_cast<int>((a >> 16) & 0x7F), static_cast<int>(a & 0xFFFF)); };
  std::vector<int> owner(static_cast<std::size_t>(p.alloc_cols), -1);  // column -> S buffer (0..), O (100 + t)
  auto claim = [&](int col, int who_id, const std::string& what) {
    if (col < 0 || col >= p.alloc_cols) { t.truth(p.name + ": " + what + " column " + std::to_string(col) + " outside the allocation", false); return; }
    const bool ok = owner[col] == -1 || owner[col] == who_id;
    t.truth(p.name + ": " + what + " column " + std::to_string(col) + " already used by another buffer", ok);
    owner[col] = who_id;
  };
  // S buffers: accumulator element (m, n) of half h -> lane m, column S + h QN + n.
  for (int b = 0; b < p.s_bufs; ++b)
    for (int h = 0; h < p.halves; ++h)
      for (int n = 0; n < QN; ++n) {
        for (int m : {0, 37, 127}) {
          const auto lc = lane_col((tS.data() + tS.layout()(make_coord(make_coord(m, n), 0, 0))).get());
          t.cmp(who + "S" + std::to_string(b) + " (m=" + std::to_string(m) + ", n=" + std::to_string(h * QN + n) + ") lane", static_cast<uint64_t>(m), static_cast<uint64_t>(lc.first));
          t.cmp(who + "S" + std::to_string(b) + " key " + std::to_string(h * QN + n) + " column", p.s_col(b, 0) + h * QN + n, static_cast<uint64_t>(p.s_col(b, h) + lc.second));
        }
        claim(static_cast<int>(p.s_col(b, h)) + n, b, "S" + std::to_string(b));
      }
  // O tiles.
  for (int o = 0; o < p.q_tiles; ++o)
    for (int n = 0; n < D; ++n) {
      const auto lc = lane_col((tO.data() + tO.layout()(make_coord(make_coord(5, n), 0, 0))).get());
      t.cmp(who + "O" + std::to_string(o) + " column " + std::to_string(n) + " lane", 5u, static_cast<uint64_t>(lc.first));
      claim(static_cast<int>(p.o_col(o)) + lc.second, 100 + o, "O" + std::to_string(o));
    }
  if (p.p_in_smem) return;
  // TS A operand: K-step kk starts at column base + kk * 8 (CUTLASS tOrP(_, _, kk)); element
  // (m, key) at lane m, column key / 2, 16-bit half key % 2 (the subword index CuTe keeps in bit 31).
  for (int b = 0; b < p.s_bufs; ++b) {
    const uint32_t pbase = p.p_col(b, 0);
    for (int kk = 0; kk < BN / 16; ++kk) {
      const uint32_t c = tP(_, _, kk).data().get();
      t.cmp(who + "P" + std::to_string(b) + " TS A k-step " + std::to_string(kk) + " column", pbase + (c & 0xFFFF), p.p_col(b, kk));
    }
    for (int key = 0; key < BN; ++key) {
      const uint32_t a = (tP.data() + tP.layout()(make_coord(make_coord(9, key % 16), 0, key / 16))).get();
      const int col = static_cast<int>(a & 0xFFFF), half = static_cast<int>(a >> 31), lane = static_cast<int>((a >> 16) & 0x7F);
      t.cmp(who + "P key " + std::to_string(key) + " lane", 9u, static_cast<uint64_t>(lane));
      // P must lie where the design says: inside S_b (aliased) or in its own columns.
      if (p.two_tile && !p.p_aliases_s) claim(static_cast<int>(pbase) + col, 200 + b, "P" + std::to_string(b));
      else t.truth(p.name + ": P" + std::to_string(b) + " key " + std::to_string(key) + " inside S" + std::to_string(b),
                   owner[static_cast<std::size_t>(pbase) + col] == b);
      if (pp && b == 0) {
        // The softmax writes key `key` (S column offset) to column offset (P base - S base) + col, half.
        auto it = pp->key_to_col_half.find(key);
        const bool have = it != pp->key_to_col_half.end();
        t.truth(p.name + ": the softmax packs key " + std::to_string(key) + " into P", have);
        if (have && pp->base_related) {
          // Column relative to the S buffer the softmax loads: the kernel's map (P base - S base)
          // plus CUTLASS's column, against the PTX's store base offset plus its column.
          t.cmp(who + "P key " + std::to_string(key) + " column (PTX softmax store)", static_cast<uint64_t>(static_cast<int>(pbase - p.s_col(0, 0)) + col),
                static_cast<uint64_t>(pp->p_minus_s + it->second.first));
        } else if (have) {
          // P has its own base register (hd64, hd256): the column inside the P buffer; the buffer's
          // base is the TMEM map's (claimed above against S and O).
          t.cmp(who + "P key " + std::to_string(key) + " column in its P buffer (PTX softmax store)", static_cast<uint64_t>(col),
                static_cast<uint64_t>(it->second.first));
        }
        if (have) {
          t.cmp(who + "P key " + std::to_string(key) + " half (PTX cvt.rn.bf16x2)", static_cast<uint64_t>(half), static_cast<uint64_t>(it->second.second));
        }
      }
    }
  }
  if (pp) {
    // The P-producing S loads read exactly the S columns of the tile's keys 0 .. BN-1.
    std::set<int> want;
    for (int n = 0; n < BN; ++n) want.insert(n);
    t.truth(p.name + ": the softmax's S loads cover keys 0.." + std::to_string(BN - 1) + " exactly once", pp->s_cols == want);
  }
}

using Runner = void (*)(const Plan&, uint32_t, const Arena&, Tally&);
using TmemRunner = void (*)(const Plan&, Tally&, const PPlacement*);
struct Instance {
  int d, qn, bn;
  Runner smem;
  TmemRunner tmem;
};
const Instance kInstances[] = {
    {64, 128, 128, &cutlass_compare<64, 128, 128>, &cutlass_tmem<64, 128, 128>},
    {128, 128, 128, &cutlass_compare<128, 128, 128>, &cutlass_tmem<128, 128, 128>},
    {128, 64, 128, &cutlass_compare<128, 64, 128>, &cutlass_tmem<128, 64, 128>},
    {256, 64, 64, &cutlass_compare<256, 64, 64>, &cutlass_tmem<256, 64, 64>},
};

// Runs every comparison for one plan (two shared-memory bases) and, when given, the PTX's P
// placement.
void compare_plan(const Plan& p, Tally& t, const std::vector<sm100_ptx::Stmt>* ptx) {
  const Instance* in = nullptr;
  for (const Instance& x : kInstances)
    if (x.d == p.d && x.qn == p.qk_n && x.bn == p.bn) in = &x;
  if (!in) {
    t.truth(p.name + ": no CUTLASS instantiation for head dim " + std::to_string(p.d) + ", N " + std::to_string(p.qk_n) +
                ", block_n " + std::to_string(p.bn) + ": add a row to kInstances",
            false);
    return;
  }
  for (uint32_t base : {0x400u, 0x8c00u}) {  // two 1024-aligned dynamic shared-memory bases
    Arena arena(base);
    in->smem(p, base, arena, t);
  }
  PPlacement pp;
  if (ptx && !p.p_in_smem) {
    pp = p_placement(*ptx, [](int n, bool load, int r) { return tmem_32x32b(n, load, 7, r).second; });
    t.truth(p.name + ": P placement in the PTX: " + pp.error, pp.error.empty() && pp.found);
    // Thread t of a warp reaches lane t of its quarter, for every register (the quarter offset is
    // the warp's lane base, 32 * (warp % 4), added to the address: bits 16+).
    for (int n : {16, 32})
      for (int th : {0, 13, 31})
        for (int r = 0; r < n; r += 7) {
          t.cmp(p.name + ": 32x32b.x" + std::to_string(n) + " load thread " + std::to_string(th) + " lane", static_cast<uint64_t>(th),
                static_cast<uint64_t>(tmem_32x32b(n, true, th, r).first));
          t.cmp(p.name + ": 32x32b.x" + std::to_string(n) + " store thread " + std::to_string(th) + " lane", static_cast<uint64_t>(th),
                static_cast<uint64_t>(tmem_32x32b(n, false, th, r).first));
        }
  }
  in->tmem(p, t, (ptx && !p.p_in_smem) ? &pp : nullptr);
}

using KernelSrc = ptxfmha_test::KernelMacros;
const std::vector<KernelSrc>& sm100_fwd_kernels() { return ptxfmha_test::sm100a_fwd_kernels(); }

// Kernel families: (matches, plan). The first match wins.
Plan plan_of(const KernelSrc& k) {
  if (k.macros.count("KERNEL_Q_TILES")) return two_tile_plan(k.name, k.macros);
  return serial_plan(k.name, k.macros);
}

std::string preprocessed(const KernelSrc& k) {
  bool ok = false;
  std::string text = ptxfmha_test::read_text_file(ptxfmha_test::preprocessed_path("sm100a", k.name), &ok);
  if (ok) return text;
  int rc = 0;
  text = ptxfmha_test::run_command("cpp -x assembler-with-cpp -P -undef -nostdinc -I" +
                                       ptxfmha_test::shell_quote(ptxfmha_test::source_dir() + "/ptx/include") + " " +
                                       ptxfmha_test::shell_quote(k.path) + " 2>&1",
                                   &rc);
  REQUIRE(rc == 0);
  return text;
}

}  // namespace

TEST_CASE("sm100a cutlass cross-check: every descriptor, K-step and TMEM column of every sm100a kernel equals CUTLASS's") {
  const auto ks = sm100_fwd_kernels();
  REQUIRE(!ks.empty());
  Tally total;
  std::string per;
  for (const KernelSrc& k : ks) {
    Tally t;
    try {
      const Plan p = plan_of(k);
      const std::vector<sm100_ptx::Stmt> ptx = sm100_ptx::parse_statements(preprocessed(k));
      compare_plan(p, t, &ptx);
    } catch (const std::exception& e) {
      t.truth(k.name + ": " + e.what(), false);
    }
    for (const std::string& b : t.bad)
      if (!b.empty()) FAIL_CHECK(b);
    CHECK_MESSAGE(t.bad.empty(), k.name << ": " << t.bad.size() << " of " << t.compared << " values differ from CUTLASS");
    per += "\n  " + k.name + ": " + std::to_string(t.compared) +
           (t.lbo_unused ? " (" + std::to_string(t.lbo_unused) + " V descriptors differ only in the unused LBO field: kernel " +
                               "BLOCK_N * 128, CUTLASS 0)" : std::string());
    total.compared += t.compared;
  }
  // The two-tile family must be here: its kernels replaced phase 1's "design rows" (the design's
  // numbers are tied to these kernels' macros by tests/test_cpu_sm100a_twotile.cpp).
  int two = 0;
  for (const KernelSrc& k : ks) two += k.macros.count("KERNEL_Q_TILES") ? 1 : 0;
  CHECK(two == 6);  // plain and EXT rows (issue 14): the same descriptors
  MESSAGE("sm100a cutlass cross-check (CUTLASS " << CUTLASS_MAJOR << "." << CUTLASS_MINOR << "." << CUTLASS_PATCH << "): "
                                                 << total.compared << " values compared, all equal" << per);
}

TEST_CASE("sm100a cutlass cross-check: a flipped bit in one kernel macro is caught") {
  const auto ks = sm100_fwd_kernels();
  REQUIRE(!ks.empty());
  struct Flip { const char* macro; long long bit; };
  const Flip serial_flips[] = {{"IDESC_QK", 1ll << 4}, {"IDESC_PV", 1ll << 16}, {"IDESC_PV", 1ll << 17}, {"SDESC_KMAJ_HI", 1ll << 14},
                               {"SDESC_V_LO", 1ll << 26}, {"Q_BOX_ENC", 1ll << 3}, {"KV_STAGE_ENC", 1ll << 11}, {"PV_KSTEP_ENC", 1ll << 6},
                               {"TMEM_COL_O", 1ll << 8}, {"P_KSTEP_COLS", 1ll << 0}, {"S_BUF_COLS", 1ll << 5}};
  const Flip two_flips[] = {{"IDESC_QK", 1ll << 4},       {"IDESC_PV", 1ll << 17},      {"SDESC_KMAJ_LO", 1ll << 17},
                            {"SDESC_V_LO", 1ll << 26},    {"Q_BOX_ENC", 1ll << 3},      {"Q_TILE_ENC", 1ll << 10},
                            {"KV_BOX_ENC", 1ll << 9},     {"KV_SLOT_ENC", 1ll << 12},   {"QK_HALF_ENC", 1ll << 8},
                            {"PV_KSTEP_ENC", 1ll << 6},   {"TMEM_COL_S0", 1ll << 0},    {"S_BUF_COLS", 1ll << 4},
                            {"TMEM_COL_P0", 1ll << 0},    {"P_BUF_COLS", 1ll << 3},     {"P_KSTEP_COLS", 1ll << 0},
                            {"TMEM_COL_O0", 1ll << 6},    {"O_BUF_COLS", 1ll << 5},     {"SMEM_Q_TILE_BYTES", 1ll << 10},
                            {"KV_SLOT_BYTES", 1ll << 10}, {"SDESC_V_HI", 1ll << 0}};
  int checked = 0;
  for (const char* want : {"fmha_fwd_d128_serial_sm100a", "fmha_fwd_d128_sm100a", "fmha_fwd_d64_sm100a", "fmha_fwd_d256_sm100a"}) {
    const KernelSrc* k = nullptr;
    for (const KernelSrc& x : ks)
      if (x.name == want) k = &x;
    REQUIRE_MESSAGE(k != nullptr, want);
    ++checked;
    const bool two = k->macros.count("KERNEL_Q_TILES") != 0;
    const std::vector<sm100_ptx::Stmt> ptx = sm100_ptx::parse_statements(preprocessed(*k));
    {
      Tally t;
      compare_plan(plan_of(*k), t, &ptx);
      REQUIRE(t.bad.empty());
    }
    std::vector<Flip> flips(two ? std::begin(two_flips) : std::begin(serial_flips), two ? std::end(two_flips) : std::end(serial_flips));
    // Macros a kernel does not use are no mutation of it: box strides at D = 64 (one box; the V
    // descriptor's LBO is then unused too), the upper-half stride without halves, the second Q/O
    // tile's strides at one Q tile. A P buffer beside S and O may sit at any free columns: its
    // place is the design's (tests/test_cpu_sm100a_twotile.cpp), so P moves are tried only where P
    // aliases S.
    const long long d = mval(k->macros, "KERNEL_HEAD_DIM", k->name);
    auto unused = [&](const std::string& m) {
      if (!two) return false;
      if (d == 64 && (m == "Q_BOX_ENC" || m == "KV_BOX_ENC" || m == "SDESC_V_LO")) return true;
      if (mval(k->macros, "QK_HALVES", k->name) == 1 && m == "QK_HALF_ENC") return true;
      if (mval(k->macros, "KERNEL_Q_TILES", k->name) == 1 && (m == "Q_TILE_ENC" || m == "SMEM_Q_TILE_BYTES" || m == "O_BUF_COLS")) return true;
      if (mval(k->macros, "P_ALIAS_S", k->name) == 0 && (m == "TMEM_COL_P0" || m == "P_BUF_COLS")) return true;
      return false;
    };
    flips.erase(std::remove_if(flips.begin(), flips.end(), [&](const Flip& f) { return unused(f.macro); }), flips.end());
    int caught = 0;
    for (const Flip& f : flips) {
      std::ostringstream fl;
      fl << k->name << " " << f.macro << " ^ 0x" << std::hex << f.bit;
      const std::string flip = fl.str();
      INFO(flip);
      KernelSrc mk = *k;
      REQUIRE_MESSAGE(mk.macros.count(f.macro), k->name << " defines no " << f.macro);
      mk.macros[f.macro] = std::to_string(mval(mk.macros, f.macro, mk.name) ^ f.bit);
      Tally t;
      try {
        compare_plan(plan_of(mk), t, &ptx);
      } catch (const std::exception& e) {
        t.truth(e.what(), false);
      }
      CHECK_MESSAGE(!t.bad.empty(), "flipping " << flip << " went unnoticed");
      caught += t.bad.empty() ? 0 : 1;
    }
    // A P store moved by one TMEM column in the PTX: the second P store the placement finds.
    const PPlacement pp = p_placement(ptx, [](int n, bool load, int r) { return tmem_32x32b(n, load, 7, r).second; });
    REQUIRE(pp.store_stmts.size() >= 2);
    std::vector<sm100_ptx::Stmt> moved = ptx;
    std::string& text = moved[pp.store_stmts[1]].text;
    const std::size_t close = text.find(']');
    REQUIRE(close != std::string::npos);
    text.insert(close, "+1");
    {
      Tally t;
      compare_plan(plan_of(*k), t, &moved);
      CHECK_MESSAGE(!t.bad.empty(), "a P store moved by one TMEM column went unnoticed: " << text);
      caught += t.bad.empty() ? 0 : 1;
    }
    // ...and a P pair packed the other way round (cvt.rn.bf16x2.f32 d, lo, hi).
    std::vector<sm100_ptx::Stmt> swapped = ptx;
    bool did = false;
    for (sm100_ptx::Stmt& s : swapped) {
      static const std::regex cvt(R"(^(cvt\.rn\.bf16x2\.f32 %\w+, ?)(%\w+), ?(%\w+)$)");
      std::smatch m;
      if (!std::regex_match(s.text, m, cvt)) continue;
      s.text = m[1].str() + m[3].str() + ", " + m[2].str();
      did = true;
      break;
    }
    REQUIRE(did);
    {
      Tally t;
      compare_plan(plan_of(*k), t, &swapped);
      CHECK_MESSAGE(!t.bad.empty(), "a P pair packed with its halves swapped went unnoticed");
      caught += t.bad.empty() ? 0 : 1;
    }
    MESSAGE(k->name << ": " << caught << " of " << flips.size() + 2 << " mutations (flipped macro bits, a P store moved, a P pair swapped) caught");
  }
  CHECK(checked == 4);
}

#else

TEST_CASE("sm100a cutlass cross-check: every descriptor, K-step and TMEM column of every sm100a kernel equals CUTLASS's" *
          doctest::skip(true)) {
  // Built without CUTLASS's headers (run `make deps`: tools/deps.d/40-cutlass.sh installs PyPI
  // nvidia-cutlass 4.2.0.0 into .deps/cutlass): reported skipped, never passed.
}
TEST_CASE("sm100a cutlass cross-check: a flipped bit in one kernel macro is caught" * doctest::skip(true)) {}

#endif
