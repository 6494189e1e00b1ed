// CPU tests of the serial Blackwell (sm_100a) forward kernels in ptx/sm100a/ (fmha_fwd_*_serial*;
// the two-tile family: tests/test_cpu_sm100a_twotile.cpp): they tie each .ptx to its
// kernel-table row (host/src/kernels_sm100a.cpp), its descriptor immediates to the host encoders
// (host/src/sm100_desc.h), its shared-memory and TMEM maps to their budgets, its descriptor
// arithmetic to the bytes TMA writes, its ptxas report (no spills) and its SASS (the tcgen05
// instructions it must contain). Nothing here runs a kernel: there is no Blackwell GPU here; the
// generic forward GPU tests (tests/test_gpu_host.cpp) run every sm100a row on an sm_100 device.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "kernel_abi.h"
#include "kernel_table.h"
#include "ptx_util.h"
#include "runtime.h"
#include "sm100_desc.h"
#include "shapes.h"

namespace {

namespace s = ptxfmha::sm100;
using ptxfmha_test::IntExpr;

constexpr long long kMaxDynSmemBytes = 232448;  // 227 KiB: sm_100 opt-in limit per block

struct Sm100Kernel {
  std::string name, path;
  std::map<std::string, std::string> macros;
  bool macros_ok = false;
  std::string error;
};

// Every tcgen05 forward kernel of the serial family in ptx/sm100a/ (fmha_fwd_*_serial*: no
// KERNEL_Q_TILES) with its macros (cpp -dM), parsed once. The two-tile family has its own tests
// (tests/test_cpu_sm100a_twotile.cpp); the sm100a decode kernels (fmha_decode*, the mma.sync design
// shared with sm90a) are covered by tests/test_cpu_decode_abi.cpp.
const std::vector<Sm100Kernel>& sm100_kernels() {
  static const std::vector<Sm100Kernel> ks = [] {
    std::vector<Sm100Kernel> out;
    for (const ptxfmha_test::PtxSource& src : ptxfmha_test::ptx_sources()) {
      if (src.arch != "sm100a" || src.name.rfind("fmha_fwd_", 0) != 0) continue;
      Sm100Kernel k;
      k.name = src.name;
      k.path = src.path;
      k.macros = ptxfmha_test::cpp_macros(src.path, &k.macros_ok, &k.error);
      if (k.macros_ok && k.macros.count("KERNEL_Q_TILES")) continue;  // the two-tile family
      out.push_back(std::move(k));
    }
    return out;
  }();
  return ks;
}

bool has(const Sm100Kernel& k, const char* m) { return k.macros.count(m) != 0; }

// Value of macro `m` of kernel `k`; fails the test case (with the kernel's name) when missing.
long long mv(const Sm100Kernel& k, const char* m) {
  long long v = 0;
  std::string err;
  IntExpr ev(k.macros);
  const bool ok = has(k, m) && ev.eval(k.macros.at(m), &v, &err);
  if (!ok) FAIL(k.name << ": macro " << m << " missing or not an integer (" << err << ")");
  return v;
}

std::vector<const Sm100Kernel*> parsed_kernels() {
  std::vector<const Sm100Kernel*> out;
  for (const Sm100Kernel& k : sm100_kernels()) {
    INFO(k.name << ": " << k.error);
    REQUIRE(k.macros_ok);
    out.push_back(&k);
  }
  return out;
}

// 128-byte swizzle (TMA CU_TENSOR_MAP_SWIZZLE_128B and the descriptor layout 2): byte address
// bits 4-6 are XOR-ed with bits 7-9; the pattern repeats every 1024 bytes.
uint32_t swizzle128(uint32_t addr) { return addr ^ (((addr >> 7) & 7u) << 4); }

// Where TMA puts byte `col_byte` of row `row` of a box whose first byte is at `box_base`
// (1024-aligned), rows of 128 bytes.
uint32_t tma_sw128_addr(uint32_t box_base, uint32_t row, uint32_t col_byte) {
  return swizzle128(box_base + row * 128u + col_byte);
}

// The bytes a tcgen05.mma shared-memory descriptor designates, after the canonical layouts of
// CUTLASS include/cute/arch/mma_sm100_desc.hpp (units of 16 bytes, T = 8 bf16):
//   K-major, SW128:  Swizzle<3,4,3> o ((8,m),(T,2)):((8T,SBO),(1,T))
//   MN-major, SW128: Swizzle<3,4,3> o ((T,8,m),(8,k)):((1,T,LBO),(8T,SBO))
// with the swizzle anchored at 1024-byte boundaries of the address (base offset 0).
// K-major: element (row r, k) of one K = 16 step; MN-major: element (n, k) of one K = 16 step.
uint32_t kmajor_desc_addr(uint64_t desc, uint32_t r, uint32_t k) {
  const s::SmemDescFields f = s::decode_smem_desc(desc);
  return swizzle128(f.start_bytes + (r % 8u) * 128u + (r / 8u) * f.sbo_bytes + k * 2u);
}
uint32_t mnmajor_desc_addr(uint64_t desc, uint32_t n, uint32_t k) {
  const s::SmemDescFields f = s::decode_smem_desc(desc);
  return swizzle128(f.start_bytes + (n % 64u) * 2u + (n / 64u) * f.lbo_bytes + (k % 8u) * 128u +
                    (k / 8u) * f.sbo_bytes);
}

// The kernel's descriptor for K-step `kstep` of a K-major tile at `tile` (the PTX's arithmetic:
// lo = (addr >> 4 | SDESC_KMAJ_LO) + (kstep & 3) * 2 + (kstep >> 2) * BOX_ENC).
uint64_t kernel_kmajor_desc(const Sm100Kernel& k, uint32_t tile, uint32_t kstep, long long box_enc) {
  const uint32_t lo = ((tile >> 4) | static_cast<uint32_t>(mv(k, "SDESC_KMAJ_LO"))) + (kstep & 3u) * 2u +
                      (kstep >> 2) * static_cast<uint32_t>(box_enc);
  return (static_cast<uint64_t>(mv(k, "SDESC_KMAJ_HI")) << 32) | lo;
}

}  // namespace

TEST_CASE("sm100a kernels: every .ptx has its table row and the same numbers") {
  const auto ks = parsed_kernels();
  std::vector<std::string> names;
  for (const Sm100Kernel* k : ks) names.push_back(k->name);
  // The serial kernels (kept for A/B against the two-tile defaults, issue 13) and the
  // P-through-smem comparison variant.
  for (const char* want : {"fmha_fwd_d64_serial_sm100a", "fmha_fwd_d128_serial_sm100a", "fmha_fwd_d256_serial_sm100a",
                           "fmha_fwd_d128_serial_pss_sm100a"}) {
    INFO(want);
    CHECK(std::find(names.begin(), names.end(), want) != names.end());
  }
  for (const Sm100Kernel* k : ks) {
    INFO(k->name);
    const ptxfmha::KernelInfo* row = ptxfmha_test::find_row(k->name);
    REQUIRE(row != nullptr);
    CHECK(std::string(row->arch) == "sm100a");
    CHECK(row->sm == 100);
    CHECK(row->kind == ptxfmha::KernelKind::Fwd);
    CHECK(k->macros.at("KERNEL_NAME") == k->name);
    CHECK(k->macros.at("KERNEL_PARAM") == k->name + "_param");
    CHECK(mv(*k, "KERNEL_THREADS") == row->threads);
    CHECK(mv(*k, "KERNEL_SMEM_BYTES") == row->smem_bytes);
    CHECK(mv(*k, "KERNEL_BLOCK_M") == row->block_m);
    CHECK(mv(*k, "KERNEL_BLOCK_N") == row->block_n);
    CHECK(mv(*k, "KERNEL_HEAD_DIM") == row->head_dim);
    CHECK(mv(*k, "KERNEL_PARAM_BYTES") == row->param_bytes);
    CHECK(mv(*k, "KERNEL_PARAM_BYTES") == static_cast<long long>(sizeof(ptxfmha::FwdKernelParams)));
    CHECK(mv(*k, "FWD_PARAM_BYTES") == static_cast<long long>(sizeof(ptxfmha::FwdKernelParams)));
    // The _pss_ naming rule and KERNEL_P_IN_SMEM say the same thing.
    CHECK((k->name.find("_pss_") != std::string::npos) == (mv(*k, "KERNEL_P_IN_SMEM") != 0));
  }
  // ...and every sm100a forward row has its .ptx (either family).
  std::vector<std::string> all_names;
  for (const ptxfmha_test::PtxSource& src : ptxfmha_test::ptx_sources())
    if (src.arch == "sm100a") all_names.push_back(src.name);
  for (const ptxfmha::KernelInfo* r : ptxfmha::all_kernels()) {
    if (std::strcmp(r->arch, "sm100a") != 0 || r->kind != ptxfmha::KernelKind::Fwd) continue;
    INFO(r->name);
    CHECK(std::find(all_names.begin(), all_names.end(), r->name) != all_names.end());
    if (std::find(names.begin(), names.end(), r->name) != names.end()) {
      CHECK(r->grid == ptxfmha::KernelInfo::Grid::GridMHB);  // serial: one CTA per m-block
      CHECK(r->q_tiles == 1);
    }
  }
}

TEST_CASE("sm100a kernels: entry, one 64-byte aligned .param block, .maxntid, target") {
  for (const Sm100Kernel* k : parsed_kernels()) {
    INFO(k->name);
    int rc = 0;
    const std::string text = ptxfmha_test::run_command(
        "cpp -x assembler-with-cpp -P -undef -nostdinc -I" +
            ptxfmha_test::shell_quote(ptxfmha_test::source_dir() + "/ptx/include") + " " +
            ptxfmha_test::shell_quote(k->path) + " 2>&1",
        &rc);
    REQUIRE(rc == 0);
    CHECK(text.find(".target sm_100a") != std::string::npos);
    const ptxfmha_test::PtxEntry e = ptxfmha_test::parse_entry(text, k->name);
    REQUIRE(e.found);
    CHECK(e.entries == 1);
    REQUIRE(e.params.size() == 1);
    CHECK(e.params[0].align == 64);
    CHECK(e.params[0].type == "b8");
    CHECK(e.params[0].name == k->name + "_param");
    CHECK(e.params[0].array == static_cast<long long>(sizeof(ptxfmha::FwdKernelParams)));
    CHECK(e.has_maxntid);
    CHECK(e.maxntid[0] == mv(*k, "KERNEL_THREADS"));
    CHECK(e.maxntid[1] == 1);
    CHECK(e.maxntid[2] == 1);
  }
}

TEST_CASE("sm100a kernels: descriptor immediates equal the host encoders for the kernel's shapes") {
  for (const Sm100Kernel* k : parsed_kernels()) {
    INFO(k->name);
    const int d = static_cast<int>(mv(*k, "KERNEL_HEAD_DIM"));
    const int bn = static_cast<int>(mv(*k, "KERNEL_BLOCK_N"));
    const int bm = static_cast<int>(mv(*k, "KERNEL_BLOCK_M"));
    CHECK(bm == 128);
    CHECK(s::mma_f16_shape_ok(bm, bn));  // S = Q K^T: M = 128, N = block_n
    CHECK(s::mma_f16_shape_ok(bm, d));   // O += P V:  M = 128, N = head_dim
    CHECK(static_cast<uint32_t>(mv(*k, "IDESC_QK")) == s::fwd_idesc_qk(bn));
    CHECK(static_cast<uint32_t>(mv(*k, "IDESC_PV")) == s::fwd_idesc_pv(d));

    // K-major 128B-swizzle descriptor (Q, K, and P in smem) with start address 0.
    const uint64_t kmaj = (static_cast<uint64_t>(mv(*k, "SDESC_KMAJ_HI")) << 32) |
                          static_cast<uint64_t>(mv(*k, "SDESC_KMAJ_LO"));
    CHECK(kmaj == s::kmajor_sw128_desc(0));
    // MN-major 128B-swizzle descriptor of the V tile (LBO = one 64-column box of block_n rows).
    const uint64_t vdesc = (static_cast<uint64_t>(mv(*k, "SDESC_V_HI")) << 32) |
                           static_cast<uint64_t>(mv(*k, "SDESC_V_LO"));
    CHECK(vdesc == s::mnmajor_sw128_desc(0, bn));

    // Strides the MMA issuer adds to the descriptors' low words (bytes >> 4).
    CHECK(mv(*k, "Q_BOX_ENC") == (s::kmajor_sw128_kstep_bytes(4, bm) >> 4));
    CHECK(mv(*k, "KV_BOX_ENC") == (s::kmajor_sw128_kstep_bytes(4, bn) >> 4));
    CHECK(mv(*k, "KV_STAGE_ENC") == (mv(*k, "KV_STAGE_BYTES") >> 4));
    CHECK(mv(*k, "PV_KSTEP_ENC") == (s::mnmajor_sw128_kstep_bytes(1) >> 4));
    CHECK(mv(*k, "QK_KSTEPS") == d / 16);
    CHECK(mv(*k, "PV_KSTEPS") == bn / 16);
    if (mv(*k, "KERNEL_P_IN_SMEM")) {
      CHECK(mv(*k, "P_BOX_ENC") == (s::kmajor_sw128_kstep_bytes(4, bm) >> 4));
      CHECK(mv(*k, "P_BUF_ENC") == (mv(*k, "P_BUF_BYTES") >> 4));
    } else {
      CHECK(mv(*k, "P_KSTEP_COLS") == static_cast<long long>(s::tmem_a_f16_cols(16)));
    }
  }
}

TEST_CASE("sm100a kernels: shared-memory map (bytes) is consistent and fits") {
  for (const Sm100Kernel* k : parsed_kernels()) {
    INFO(k->name);
    const long long d = mv(*k, "KERNEL_HEAD_DIM"), bn = mv(*k, "KERNEL_BLOCK_N"), bm = mv(*k, "KERNEL_BLOCK_M");
    const long long stages = mv(*k, "KERNEL_STAGES");
    const long long bf16_bytes = 2;
    CHECK(stages >= 1);
    CHECK(stages <= mv(*k, "MAX_STAGES"));
    CHECK(d % 64 == 0);  // whole 64-element (128-byte) TMA boxes
    CHECK(mv(*k, "SMEM_Q_OFF") == 0);
    CHECK(mv(*k, "SMEM_Q_BYTES") == bm * d * bf16_bytes);
    CHECK(mv(*k, "Q_TX_BYTES") == mv(*k, "SMEM_Q_BYTES"));
    CHECK(mv(*k, "Q_BOX_BYTES") == bm * 128);
    CHECK(mv(*k, "Q_BOX_BYTES") * (d / 64) == mv(*k, "SMEM_Q_BYTES"));
    CHECK(mv(*k, "KV_STAGE_BYTES") == bn * d * bf16_bytes);
    CHECK(mv(*k, "KV_TX_BYTES") == mv(*k, "KV_STAGE_BYTES"));
    CHECK(mv(*k, "KV_BOX_BYTES") == bn * 128);
    CHECK(mv(*k, "KV_BOX_BYTES") * (d / 64) == mv(*k, "KV_STAGE_BYTES"));
    CHECK(mv(*k, "SMEM_K_OFF") == mv(*k, "SMEM_Q_OFF") + mv(*k, "SMEM_Q_BYTES"));
    CHECK(mv(*k, "SMEM_V_OFF") == mv(*k, "SMEM_K_OFF") + stages * mv(*k, "KV_STAGE_BYTES"));
    long long end = mv(*k, "SMEM_V_OFF") + stages * mv(*k, "KV_STAGE_BYTES");
    std::vector<long long> tiles = {mv(*k, "SMEM_Q_OFF"), mv(*k, "SMEM_K_OFF"), mv(*k, "SMEM_V_OFF"),
                                    mv(*k, "Q_BOX_BYTES"), mv(*k, "KV_BOX_BYTES"), mv(*k, "KV_STAGE_BYTES")};
    if (mv(*k, "KERNEL_P_IN_SMEM")) {
      CHECK(mv(*k, "SMEM_P_OFF") == end);
      CHECK(mv(*k, "P_BUF_BYTES") == bm * bn * bf16_bytes);
      CHECK(mv(*k, "P_BOX_BYTES") == bm * 128);
      CHECK(mv(*k, "P_BOX_BYTES") * (bn / 64) == mv(*k, "P_BUF_BYTES"));
      end = mv(*k, "SMEM_P_OFF") + 2 * mv(*k, "P_BUF_BYTES");
      tiles.push_back(mv(*k, "SMEM_P_OFF"));
      tiles.push_back(mv(*k, "P_BUF_BYTES"));
      tiles.push_back(mv(*k, "P_BOX_BYTES"));
    }
    CHECK(mv(*k, "SMEM_BAR_OFF") == end);
    // Every tile, stage and box starts on a 1024-byte boundary: the 128B-swizzle pattern of TMA
    // and of the descriptors (base offset 0) line up.
    for (long long t : tiles) CHECK(t % 1024 == 0);
    CHECK(mv(*k, "SMEM_ALIGN_SLACK") == 1024);
    CHECK(mv(*k, "KERNEL_SMEM_BYTES") ==
          mv(*k, "SMEM_ALIGN_SLACK") + mv(*k, "SMEM_BAR_OFF") + mv(*k, "SMEM_BAR_BYTES"));
    CHECK(mv(*k, "KERNEL_SMEM_BYTES") <= kMaxDynSmemBytes);

    // Barrier block: 8-byte mbarriers, per-stage arrays of MAX_STAGES, two S/P buffers, disjoint.
    const long long ms = mv(*k, "MAX_STAGES");
    struct Range { const char* name; long long off, bytes; };
    const std::vector<Range> bars = {
        {"BAR_Q_FULL", mv(*k, "BAR_Q_FULL"), 8},        {"BAR_K_FULL", mv(*k, "BAR_K_FULL"), 8 * ms},
        {"BAR_K_EMPTY", mv(*k, "BAR_K_EMPTY"), 8 * ms}, {"BAR_V_FULL", mv(*k, "BAR_V_FULL"), 8 * ms},
        {"BAR_V_EMPTY", mv(*k, "BAR_V_EMPTY"), 8 * ms}, {"BAR_S_FULL", mv(*k, "BAR_S_FULL"), 16},
        {"BAR_P_FULL", mv(*k, "BAR_P_FULL"), 16},       {"BAR_O_DONE", mv(*k, "BAR_O_DONE"), 8},
        {"TMEM_SLOT", mv(*k, "TMEM_SLOT"), 4}};
    for (std::size_t a = 0; a < bars.size(); ++a) {
      INFO(bars[a].name);
      CHECK(bars[a].off % (bars[a].bytes == 4 ? 4 : 8) == 0);
      CHECK(bars[a].off + bars[a].bytes <= mv(*k, "SMEM_BAR_BYTES"));
      for (std::size_t b = a + 1; b < bars.size(); ++b)
        CHECK((bars[a].off + bars[a].bytes <= bars[b].off || bars[b].off + bars[b].bytes <= bars[a].off));
    }
    CHECK(mv(*k, "P_FULL_ARRIVALS") == 32 * mv(*k, "NUM_SOFTMAX_WARPS"));
    CHECK(mv(*k, "KERNEL_THREADS") == 32 * (mv(*k, "NUM_SOFTMAX_WARPS") + 2));
    CHECK(mv(*k, "WARP_LOAD") == mv(*k, "NUM_SOFTMAX_WARPS"));
    CHECK(mv(*k, "WARP_MMA") == mv(*k, "NUM_SOFTMAX_WARPS") + 1);
    CHECK((1LL << mv(*k, "LOG2_BLOCK_N")) == bn);
    CHECK((1LL << mv(*k, "LOG2_BLOCK_M")) == bm);
  }
}

TEST_CASE("sm100a kernels: TMEM column plan (S/P double buffer + O within the allocation)") {
  for (const Sm100Kernel* k : parsed_kernels()) {
    INFO(k->name);
    const long long d = mv(*k, "KERNEL_HEAD_DIM"), bn = mv(*k, "KERNEL_BLOCK_N");
    const long long alloc = mv(*k, "TMEM_ALLOC_COLS");
    const long long s0 = mv(*k, "TMEM_COL_S0"), sbuf = mv(*k, "S_BUF_COLS"), o = mv(*k, "TMEM_COL_O");
    CHECK(s::tmem_alloc_cols_ok(static_cast<uint32_t>(alloc)));
    CHECK(alloc <= static_cast<long long>(s::kTmemColumns));
    CHECK(mv(*k, "NUM_SOFTMAX_WARPS") * 32 == static_cast<long long>(s::kTmemLanes));  // one row per lane
    CHECK(sbuf >= bn);                         // S_j: block_n fp32 columns
    CHECK(s0 >= 0);
    CHECK(s0 + 2 * sbuf <= o);                 // S0, S1 below O, no overlap
    CHECK(o + d <= alloc);                     // O: head_dim fp32 columns
    CHECK(s::tmem_addr(0, static_cast<uint32_t>(o + d - 1)) < 0x10000u);
    if (!mv(*k, "KERNEL_P_IN_SMEM")) {
      // P_j aliases S_j: packed bf16x2, block_n / 2 columns from the buffer's first column;
      // K-step kk of O += P V reads columns [8 kk, 8 kk + 8): keys 16 kk .. 16 kk + 15.
      CHECK(static_cast<long long>(s::tmem_a_f16_cols(static_cast<int>(bn))) <= sbuf);
      const long long step = mv(*k, "P_KSTEP_COLS");
      for (long long key = 0; key < bn; ++key) {
        const long long written_col = 16 * (key / 32) + (key % 32) / 2;  // softmax chunk store
        const long long kk = key / 16;
        CHECK(written_col >= kk * step);
        CHECK(written_col < kk * step + step);
      }
      CHECK(mv(*k, "PV_KSTEPS") * step == bn / 2);
    }
    // A warp reaches lanes 32 w .. 32 w + 31 only: the softmax warps 0-3 add w << 21.
    CHECK(s::tmem_addr(32, 0) == (1u << 21));
  }
}

TEST_CASE("sm100a kernels: every MMA K-step reads exactly the bytes TMA (or softmax) wrote") {
  // Model: TMA box rows of 128 bytes, 128B swizzle; descriptor canonical layouts of CUTLASS
  // (see kmajor_desc_addr). The tile bases are 1024-aligned absolute addresses (what the
  // kernels' run-time round-up of the dynamic shared memory base guarantees).
  const uint32_t base = 0x400;  // a 1024-aligned dynamic shared memory base
  for (const Sm100Kernel* k : parsed_kernels()) {
    INFO(k->name);
    const uint32_t d = static_cast<uint32_t>(mv(*k, "KERNEL_HEAD_DIM"));
    const uint32_t bn = static_cast<uint32_t>(mv(*k, "KERNEL_BLOCK_N"));
    const uint32_t stages = static_cast<uint32_t>(mv(*k, "KERNEL_STAGES"));
    const uint32_t q_tile = base + static_cast<uint32_t>(mv(*k, "SMEM_Q_OFF"));
    int bad = 0;
    // A = Q (row m, head-dim column c = 16 kk + kc): box c / 64, TMA byte 2 (c % 64).
    for (uint32_t kk = 0; kk < d / 16; ++kk) {
      const uint64_t desc = kernel_kmajor_desc(*k, q_tile, kk, mv(*k, "Q_BOX_ENC"));
      for (uint32_t m = 0; m < 128; ++m)
        for (uint32_t kc = 0; kc < 16; ++kc) {
          const uint32_t c = 16 * kk + kc;
          const uint32_t want = tma_sw128_addr(q_tile + (c / 64) * static_cast<uint32_t>(mv(*k, "Q_BOX_BYTES")), m, 2 * (c % 64));
          if (kmajor_desc_addr(desc, m, kc) != want && bad++ < 5) FAIL_CHECK("Q m=" << m << " c=" << c);
        }
    }
    // B = K of every stage (key row n, head-dim column c).
    for (uint32_t st = 0; st < stages; ++st) {
      const uint32_t k_tile = base + static_cast<uint32_t>(mv(*k, "SMEM_K_OFF") + st * mv(*k, "KV_STAGE_BYTES"));
      CHECK((((k_tile >> 4) | static_cast<uint32_t>(mv(*k, "SDESC_KMAJ_LO")))) ==
            (((base + static_cast<uint32_t>(mv(*k, "SMEM_K_OFF"))) >> 4) | static_cast<uint32_t>(mv(*k, "SDESC_KMAJ_LO"))) +
                st * static_cast<uint32_t>(mv(*k, "KV_STAGE_ENC")));
      for (uint32_t kk = 0; kk < d / 16; ++kk) {
        const uint64_t desc = kernel_kmajor_desc(*k, k_tile, kk, mv(*k, "KV_BOX_ENC"));
        for (uint32_t n = 0; n < bn; ++n)
          for (uint32_t kc = 0; kc < 16; ++kc) {
            const uint32_t c = 16 * kk + kc;
            const uint32_t want = tma_sw128_addr(k_tile + (c / 64) * static_cast<uint32_t>(mv(*k, "KV_BOX_BYTES")), n, 2 * (c % 64));
            if (kmajor_desc_addr(desc, n, kc) != want && bad++ < 5) FAIL_CHECK("K stage " << st << " n=" << n << " c=" << c);
          }
      }
      // B = V (MN-major): element (key 16 kk + kc, head-dim column n).
      const uint32_t v_tile = base + static_cast<uint32_t>(mv(*k, "SMEM_V_OFF") + st * mv(*k, "KV_STAGE_BYTES"));
      for (uint32_t kk = 0; kk < bn / 16; ++kk) {
        const uint32_t lo = ((v_tile >> 4) | static_cast<uint32_t>(mv(*k, "SDESC_V_LO"))) +
                            kk * static_cast<uint32_t>(mv(*k, "PV_KSTEP_ENC"));
        const uint64_t desc = (static_cast<uint64_t>(mv(*k, "SDESC_V_HI")) << 32) | lo;
        for (uint32_t n = 0; n < d; ++n)
          for (uint32_t kc = 0; kc < 16; ++kc) {
            const uint32_t key = 16 * kk + kc;
            const uint32_t want = tma_sw128_addr(v_tile + (n / 64) * static_cast<uint32_t>(mv(*k, "KV_BOX_BYTES")), key, 2 * (n % 64));
            if (mnmajor_desc_addr(desc, n, kc) != want && bad++ < 5) FAIL_CHECK("V stage " << st << " key=" << key << " n=" << n);
          }
      }
    }
    // A = P in shared memory (pss): where softmax stores key c of row r (unit u = (c % 64) / 8
    // of box c / 64 at r * 128 + ((u ^ (r % 8)) * 16), element c % 8 inside the unit).
    if (mv(*k, "KERNEL_P_IN_SMEM")) {
      for (uint32_t b = 0; b < 2; ++b) {
        const uint32_t p_buf = base + static_cast<uint32_t>(mv(*k, "SMEM_P_OFF") + b * mv(*k, "P_BUF_BYTES"));
        const uint32_t p_lo0 = ((base + static_cast<uint32_t>(mv(*k, "SMEM_P_OFF"))) >> 4) | static_cast<uint32_t>(mv(*k, "SDESC_KMAJ_LO"));
        CHECK(((p_buf >> 4) | static_cast<uint32_t>(mv(*k, "SDESC_KMAJ_LO"))) == p_lo0 + b * static_cast<uint32_t>(mv(*k, "P_BUF_ENC")));
        for (uint32_t kk = 0; kk < bn / 16; ++kk) {
          const uint64_t desc = kernel_kmajor_desc(*k, p_buf, kk, mv(*k, "P_BOX_ENC"));
          for (uint32_t r = 0; r < 128; ++r)
            for (uint32_t kc = 0; kc < 16; ++kc) {
              const uint32_t c = 16 * kk + kc;
              const uint32_t u = (c % 64) / 8;
              const uint32_t stored = p_buf + (c / 64) * static_cast<uint32_t>(mv(*k, "P_BOX_BYTES")) + r * 128 +
                                      ((u ^ (r % 8)) * 16) + (c % 8) * 2;
              if (kmajor_desc_addr(desc, r, kc) != stored && bad++ < 5) FAIL_CHECK("P buf " << b << " r=" << r << " c=" << c);
              // ...which is also where TMA would have put it (the same 128B swizzle).
              if (stored != tma_sw128_addr(p_buf + (c / 64) * static_cast<uint32_t>(mv(*k, "P_BOX_BYTES")), r, 2 * (c % 64)) && bad++ < 5)
                FAIL_CHECK("P swizzle r=" << r << " c=" << c);
            }
        }
      }
    }
    CHECK(bad == 0);
  }
}

TEST_CASE("sm100a kernels: ptxas -v reports zero spills (registers and shared memory recorded)") {
  for (const Sm100Kernel* k : parsed_kernels()) {
    INFO(k->name);
    const std::string path = ptxfmha_test::ptxas_report_path("sm100a", k->name);
    bool ok = false;
    const std::string text = ptxfmha_test::read_text_file(path, &ok);
    REQUIRE_MESSAGE(ok, "ptxas report " << path << " is missing (`make cubins` writes it)");
    const ptxfmha_test::PtxasReport r = ptxfmha_test::parse_ptxas_report(text);
    REQUIRE(r.entries.size() == 1);
    CHECK(r.entries[0] == k->name);
    CHECK(r.targets[0] == "sm_100a");
    CHECK(r.spill_stores == 0);
    CHECK(r.spill_loads == 0);
    CHECK(r.stack_frame == 0);
    CHECK(r.registers > 0);
    CHECK(r.registers <= 255);
    CHECK(r.static_smem == 0);  // all shared memory is dynamic: KERNEL_SMEM_BYTES
    CHECK(r.problems.empty());
    MESSAGE(k->name << ": " << r.registers << " registers, " << r.static_smem << " B static + "
                    << mv(*k, "KERNEL_SMEM_BYTES") << " B dynamic shared memory, "
                    << mv(*k, "TMEM_ALLOC_COLS") << " TMEM columns, 0 spills");
  }
}

TEST_CASE("sm100a kernels: default selection takes the two-tile kernel, never a _serial variant") {
  for (int d : ptxfmha_test::kHeadDims) {
    INFO("head_dim " << d);
    const ptxfmha::KernelInfo* r = ptxfmha::find_kernel(100, ptxfmha::KernelKind::Fwd, d);
    REQUIRE(r != nullptr);
    CHECK(std::string(r->name) == "fmha_fwd_d" + std::to_string(d) + "_sm100a");
    CHECK(std::string(r->name).find("_serial") == std::string::npos);
    CHECK(std::string(r->name).find("_pss_") == std::string::npos);
  }
}

// ---- SASS contract ------------------------------------------------------------------------------
// Opcodes seen in `cuobjdump -sass` (cuobjdump 13.2/13.5 from PyPI) of these kernels as assembled
// by ptxas 13.0 (V13.0.88) for sm_100a:
//   UTCHMMA gdesc[..], gdesc[..], tmem[..], ..., idesc[..]   tcgen05.mma kind::f16, A and B from
//                                                          shared memory (S = Q K^T; pss: P V)
//   UTCHMMA tmem[..], gdesc[..], tmem[..], ..., idesc[..]    the same with A from TMEM (TS: P V)
//   LDTM.x32 / STTM.x16 / STTM.x32                         tcgen05.ld / tcgen05.st 32x32b
//   UTCBAR [..], URZ                                       tcgen05.commit -> mbarrier arrive
//   UTCATOMSWS.FIND_AND_SET.ALIGN                          tcgen05.alloc (retry loop)
//   UTCATOMSWS.AND                                         tcgen05.dealloc
//   UVIRTCOUNT.DEALLOC.SMPOOL                              tcgen05.relinquish_alloc_permit
//   UTMALDG.4D                                             cp.async.bulk.tensor.4d (TMA load)
//   SYNCS.EXCH.64 / SYNCS.ARRIVE.TRANS64 / SYNCS.PHASECHK.TRANS64.TRYWAIT   mbarrier init/arrive/wait
//   MUFU.EX2, F2FP.BF16.F32.PACK_AB, FMNMX3, VOTE.ANY, STG.E.128 (softmax, epilogue)
//   no LDL / STL (no local memory)
namespace {
int count_lines_with(const std::string& text, const std::string& needle) {
  int n = 0;
  for (std::size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("sm100a SASS contract: tcgen05 MMA, TMEM loads/stores, alloc/dealloc, commits, no local memory" *
          doctest::test_suite("sass")) {
  const std::string objdump = ptxfmha_test::cuobjdump_path();
  REQUIRE(!objdump.empty());
  for (const Sm100Kernel* k : parsed_kernels()) {
    INFO(k->name);
    const std::string cubin = ptxfmha_test::cubin_file("sm100a", k->name);
    REQUIRE_MESSAGE(ptxfmha_test::file_exists(cubin), cubin << " is missing (`make cubins` writes it)");
    int rc = 0;
    const std::string text =
        ptxfmha_test::run_command(ptxfmha_test::shell_quote(objdump) + " -sass " + ptxfmha_test::shell_quote(cubin) + " 2>&1", &rc);
    REQUIRE_MESSAGE(rc == 0, objdump << " -sass " << cubin << " failed: " << text.substr(0, 400));
    const std::vector<ptxfmha_test::SassFunction> fns = ptxfmha_test::parse_sass(text);
    REQUIRE(fns.size() == 1);
    CHECK(fns[0].name == k->name);
    const std::map<std::string, long long>& ops = fns[0].opcodes;
    auto count = [&](const char* op) { auto it = ops.find(op); return it == ops.end() ? 0LL : it->second; };

    const bool p_in_smem = mv(*k, "KERNEL_P_IN_SMEM") != 0;
    const int ss_mma = count_lines_with(text, "UTCHMMA gdesc[");
    const int ts_mma = count_lines_with(text, "UTCHMMA tmem[");
    CHECK(count("UTCHMMA") == ss_mma + ts_mma);
    // S = Q K^T: QK_KSTEPS instructions per S tile, issued from two places (prologue, loop).
    CHECK(ss_mma >= 2);
    if (p_in_smem) {
      CHECK(ts_mma == 0);  // O += P V from shared memory only
    } else {
      CHECK(ts_mma >= 1);  // O += P V with A = P in TMEM
    }
    CHECK(count("LDTM") >= 1);                                  // S and O reads
    CHECK(count("STTM") >= 1);                                  // O correction (and P)
    if (!p_in_smem) CHECK(count_lines_with(text, "STTM.x16") >= 1);  // P_j, packed bf16x2
    CHECK(count_lines_with(text, "UTCATOMSWS.FIND_AND_SET") >= 1);  // tcgen05.alloc
    CHECK(count_lines_with(text, "UTCATOMSWS.AND") >= 1);           // tcgen05.dealloc
    CHECK(count("UTCBAR") >= 4);                                // commits: s_full, k_empty, o_done, v_empty
    CHECK(count("UTMALDG") >= 3);                               // TMA loads of Q, K, V
    CHECK(count("SYNCS") >= 1);                                 // mbarriers
    CHECK(count("LDL") == 0);
    CHECK(count("STL") == 0);
    MESSAGE(k->name << ": UTCHMMA " << count("UTCHMMA") << " (SS " << ss_mma << ", TS " << ts_mma
                    << "), LDTM " << count("LDTM") << ", STTM " << count("STTM") << ", UTCBAR "
                    << count("UTCBAR") << ", UTMALDG " << count("UTMALDG") << ", UTCATOMSWS "
                    << count("UTCATOMSWS") << ", LDL/STL " << count("LDL") + count("STL"));
  }
}
