// CPU tests of the two-tile Blackwell (sm_100a) forward kernels fmha_fwd_d{64,128,256}_sm100a
// (ptx/body/sm100_fwd/, issue 13): each .ptx against its kernel-table row, its macros against the
// design's numbers (tests/sm100_model/design.h, docs/sm100_fwd_design.md), its descriptor
// immediates against the host encoders (host/src/sm100_desc.h), its shared-memory and TMEM maps
// against their budgets and each other, its descriptor arithmetic against the bytes TMA writes,
// its ptxas report (no spills, registers per role within what setmaxnreg grants) and its SASS
// (the tcgen05 / TMA instruction counts the code's structure implies). Nothing here runs a
// kernel: there is no Blackwell GPU here. The CUTLASS cross-check, protocol model and numerics
// emulator of these kernels: tests/test_cpu_sm100a_{cutlass,protocol,numerics}.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "fwd_plan.h"
#include "attn_kernel_abi.h"
#include "kernel_abi.h"
#include "kernel_table.h"
#include "ptx_util.h"
#include "runtime.h"
#include "sm100_desc.h"
#include "sm100_model/design.h"
#include "sm100_model/numerics.h"
#include "sm100_model/ptx_exec.h"
#include "sm100_model/ptx_roles.h"
#include "shapes.h"

namespace {

namespace s = ptxfmha::sm100;

using TwoTile = ptxfmha_test::KernelMacros;

// The kernels of the two-tile family (KERNEL_Q_TILES defined), parsed once.
const std::vector<TwoTile>& twotile() {
  static const std::vector<TwoTile> ks = [] {
    std::vector<TwoTile> out;
    for (const TwoTile& k : ptxfmha_test::sm100a_fwd_kernels())
      if (k.macros.count("KERNEL_Q_TILES")) out.push_back(k);
    return out;
  }();
  return ks;
}


// An fp32 immediate of the PTX (0fXXXXXXXX) -> its bits.
uint32_t f32_bits(const TwoTile& k, const char* m) {
  auto it = k.macros.find(m);
  REQUIRE_MESSAGE(it != k.macros.end(), k.name << " does not define " << m);
  static const std::regex re(R"(^\s*0f([0-9A-Fa-f]{8})\s*$)");
  std::smatch mm;
  REQUIRE_MESSAGE(std::regex_match(it->second, mm, re), k.name << ": " << m << " = '" << it->second << "' is no fp32 immediate");
  return static_cast<uint32_t>(std::stoul(mm[1].str(), nullptr, 16));
}

const sm100_design::FwdDesign* design_of(int head_dim) {
  for (const sm100_design::FwdDesign* d : sm100_design::kDesigns)
    if (d->head_dim == head_dim) return d;
  return nullptr;
}

// The design's numbers against a kernel's macros: every mismatch as "MACRO: kernel x, design y".
struct DesignField {
  const char* macro;
  int sm100_design::FwdDesign::*field;
};
const DesignField kDesignFields[] = {
    {"KERNEL_HEAD_DIM", &sm100_design::FwdDesign::head_dim},
    {"KERNEL_Q_TILES", &sm100_design::FwdDesign::q_tiles},
    {"KERNEL_BLOCK_M", &sm100_design::FwdDesign::block_m},
    {"KERNEL_BLOCK_N", &sm100_design::FwdDesign::block_n},
    {"KERNEL_THREADS", &sm100_design::FwdDesign::threads},
    {"WARP_CORRECTION", &sm100_design::FwdDesign::warp_correction},
    {"WARP_MMA", &sm100_design::FwdDesign::warp_mma},
    {"WARP_TMA", &sm100_design::FwdDesign::warp_tma},
    {"REGS_SOFTMAX", &sm100_design::FwdDesign::regs_softmax},
    {"REGS_CORRECTION", &sm100_design::FwdDesign::regs_correction},
    {"REGS_OTHER", &sm100_design::FwdDesign::regs_other},
    {"TMEM_ALLOC_COLS", &sm100_design::FwdDesign::tmem_alloc_cols},
    {"TMEM_COL_S0", &sm100_design::FwdDesign::tmem_s0},
    {"S_BUF_COLS", &sm100_design::FwdDesign::s_buf_cols},
    {"TMEM_COL_P0", &sm100_design::FwdDesign::tmem_p0},
    {"P_BUF_COLS", &sm100_design::FwdDesign::p_buf_cols},
    {"TMEM_COL_O0", &sm100_design::FwdDesign::tmem_o0},
    {"O_BUF_COLS", &sm100_design::FwdDesign::o_buf_cols},
    {"KERNEL_QK_N", &sm100_design::FwdDesign::qk_n},
    {"SMEM_Q_OFF", &sm100_design::FwdDesign::smem_q_off},
    {"SMEM_Q_TILE_BYTES", &sm100_design::FwdDesign::q_tile_bytes},
    {"SMEM_KV_OFF", &sm100_design::FwdDesign::smem_kv_off},
    {"KERNEL_KV_SLOTS", &sm100_design::FwdDesign::kv_slots},
    {"KV_SLOT_BYTES", &sm100_design::FwdDesign::kv_slot_bytes},
    {"SMEM_O_OFF", &sm100_design::FwdDesign::smem_o_off},
    {"O_STAGE_BYTES", &sm100_design::FwdDesign::o_stage_bytes},
    {"SMEM_STATS_OFF", &sm100_design::FwdDesign::smem_stats_off},
    {"STATS_BYTES", &sm100_design::FwdDesign::stats_bytes},
    {"SMEM_BAR_OFF", &sm100_design::FwdDesign::smem_bar_off},
    {"SMEM_BAR_BYTES", &sm100_design::FwdDesign::bar_bytes},
    {"KERNEL_SMEM_BYTES", &sm100_design::FwdDesign::smem_bytes},
    {"EX2_POLY_COLS_PER_32", &sm100_design::FwdDesign::ex2_poly_cols_per_32},
};

std::vector<std::string> design_mismatches(const TwoTile& k, const sm100_design::FwdDesign& d) {
  std::vector<std::string> bad;
  for (const DesignField& f : kDesignFields) {
    const long long v = k.mv(f.macro);
    if (v != d.*(f.field)) bad.push_back(std::string(f.macro) + ": kernel " + std::to_string(v) + ", design " + std::to_string(d.*(f.field)));
  }
  if ((k.mv("P_ALIAS_S") != 0) != d.p_aliases_s) bad.push_back("P_ALIAS_S differs");
  return bad;
}

// 128-byte swizzle (TMA CU_TENSOR_MAP_SWIZZLE_128B and the descriptor layout 2).
uint32_t swizzle128(uint32_t addr) { return addr ^ (((addr >> 7) & 7u) << 4); }
uint32_t tma_sw128_addr(uint32_t box_base, uint32_t row, uint32_t col_byte) { return swizzle128(box_base + row * 128u + col_byte); }
uint32_t kmajor_desc_addr(uint64_t desc, uint32_t r, uint32_t k) {
  const s::SmemDescFields f = s::decode_smem_desc(desc);
  return swizzle128(f.start_bytes + (r % 8u) * 128u + (r / 8u) * f.sbo_bytes + k * 2u);
}
uint32_t mnmajor_desc_addr(uint64_t desc, uint32_t n, uint32_t k) {
  const s::SmemDescFields f = s::decode_smem_desc(desc);
  return swizzle128(f.start_bytes + (n % 64u) * 2u + (n / 64u) * f.lbo_bytes + (k % 8u) * 128u + (k / 8u) * f.sbo_bytes);
}

int count_of(const std::string& text, const std::string& needle) {
  int n = 0;
  for (std::size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("sm100a two-tile kernels: every .ptx has its table row (TileLoop, Q tiles, no tile counter), entry and .param") {
  const auto& ks = twotile();
  std::vector<std::string> names;
  for (const TwoTile& k : ks) names.push_back(k.name);
  for (const char* want : {"fmha_fwd_d64_sm100a", "fmha_fwd_d128_sm100a", "fmha_fwd_d256_sm100a", "fmha_fwd_d64_ext_sm100a",
                           "fmha_fwd_d128_ext_sm100a", "fmha_fwd_d256_ext_sm100a"})
    CHECK_MESSAGE(std::find(names.begin(), names.end(), want) != names.end(), want);
  for (const TwoTile& k : ks) {
    INFO(k.name);
    const ptxfmha::KernelInfo* row = ptxfmha_test::find_row(k.name);
    REQUIRE(row != nullptr);
    CHECK(std::string(row->arch) == "sm100a");
    CHECK(row->sm == 100);
    CHECK(row->kind == ptxfmha::KernelKind::Fwd);
    CHECK(k.macros.at("KERNEL_NAME") == k.name);
    CHECK(k.macros.at("KERNEL_PARAM") == k.name + "_param");
    CHECK(k.mv("KERNEL_THREADS") == row->threads);
    CHECK(k.mv("KERNEL_SMEM_BYTES") == row->smem_bytes);
    CHECK(k.mv("KERNEL_BLOCK_M") == row->block_m);
    CHECK(k.mv("KERNEL_BLOCK_N") == row->block_n);
    CHECK(k.mv("KERNEL_HEAD_DIM") == row->head_dim);
    CHECK(k.mv("KERNEL_Q_TILES") == row->q_tiles);
    CHECK(k.mv("KERNEL_PARAM_BYTES") == row->param_bytes);
    // The plain rows take FwdKernelParams, the EXT rows (issue 14) AttnKernelParams.
    const long long param_bytes = k.mv("KERNEL_VARIANT") == 0 ? static_cast<long long>(sizeof(ptxfmha::FwdKernelParams))
                                                               : static_cast<long long>(sizeof(ptxfmha::AttnKernelParams));
    CHECK(k.mv("KERNEL_VARIANT") == (k.name.find("_ext_") != std::string::npos ? 1 : 0));
    CHECK(k.mv("KERNEL_PARAM_BYTES") == param_bytes);
    CHECK(row->grid == ptxfmha::KernelInfo::Grid::TileLoop);
    CHECK_FALSE(row->tile_counter);  // static order; causal: one CTA per tile (scheduler.ptxh)
    // The host's tensor maps: one Q box per 128-row Q tile (TMA_LOADER loads Q_t with it), K and
    // V boxes of block_n rows, O boxes of O_STORE_ROWS rows (the epilogue's TMA stores).
    ptxfmha::FwdShape sh;
    sh.batch = sh.seqlen_q = sh.seqlen_k = sh.heads_q = sh.heads_kv = 1;
    sh.head_dim = row->head_dim;
    const ptxfmha::FwdTmaBoxes box = ptxfmha::plan_fwd_tma_boxes(*row, sh);
    CHECK(box.rows_q == static_cast<unsigned>(k.mv("SM100_FWD_TILE_ROWS")));
    CHECK(box.rows_kv == static_cast<unsigned>(k.mv("KERNEL_BLOCK_N")));
    CHECK(box.rows_o == static_cast<unsigned>(k.mv("O_STORE_ROWS")));
    CHECK(box.cols == 64u);
    // Entry, one 64-byte aligned .param block, .maxntid, target.
    int rc = 0;
    const std::string text = ptxfmha_test::run_command("cpp -x assembler-with-cpp -P -undef -nostdinc -I" +
                                                           ptxfmha_test::shell_quote(ptxfmha_test::source_dir() + "/ptx/include") + " " +
                                                           ptxfmha_test::shell_quote(k.path) + " 2>&1",
                                                       &rc);
    REQUIRE(rc == 0);
    CHECK(text.find(".target sm_100a") != std::string::npos);
    const ptxfmha_test::PtxEntry e = ptxfmha_test::parse_entry(text, k.name);
    REQUIRE(e.found);
    CHECK(e.entries == 1);
    REQUIRE(e.params.size() == 1);
    CHECK(e.params[0].align == 64);
    CHECK(e.params[0].name == k.name + "_param");
    CHECK(e.params[0].array == param_bytes);
    CHECK(e.has_maxntid);
    CHECK(e.maxntid[0] == k.mv("KERNEL_THREADS"));
  }
  CHECK(ks.size() == 6);
}

TEST_CASE("sm100a two-tile kernels: every macro of the design equals design.h (and a changed design is noticed)") {
  for (const TwoTile& k : twotile()) {
    INFO(k.name);
    const sm100_design::FwdDesign* d = design_of(static_cast<int>(k.mv("KERNEL_HEAD_DIM")));
    REQUIRE(d != nullptr);
    for (const std::string& b : design_mismatches(k, *d)) FAIL_CHECK(b);
    // Scalars of the design page (docs/sm100_fwd_design.md sections 5, 8, 9).
    float thr = 0;
    const uint32_t tb = f32_bits(k, "RESCALE_THRESHOLD");
    std::memcpy(&thr, &tb, sizeof thr);
    CHECK(thr == sm100_design::kRescaleThresholdLog2);
    CHECK(k.mv("BAR_EPI") == sm100_design::kNamedBarEpilogue);
    CHECK(f32_bits(k, "EX2_POLY_C1") == sm100_numerics::kPolyC1Bits);
    CHECK(f32_bits(k, "EX2_POLY_C2") == sm100_numerics::kPolyC2Bits);
    CHECK(f32_bits(k, "EX2_POLY_C3") == sm100_numerics::kPolyC3Bits);
    CHECK(f32_bits(k, "EX2_POLY_X_MIN") == 0xC2FE0000u);   // -127
    CHECK(f32_bits(k, "EX2_POLY_MAGIC") == 0x4B400000u);   // 1.5 x 2^23
    const uint32_t idesc_qk = d->qk_n == 128 ? 0x08200490u : 0x08100490u;  // design section 9
    const uint32_t idesc_pv = d->head_dim == 64 ? 0x08110490u : d->head_dim == 128 ? 0x08210490u : 0x08410490u;
    CHECK(static_cast<uint32_t>(k.mv("IDESC_QK")) == idesc_qk);
    CHECK(static_cast<uint32_t>(k.mv("IDESC_PV")) == idesc_pv);
    CHECK(k.mv("Q_BOX_ENC") == 1024);
    CHECK(k.mv("PV_KSTEP_ENC") == 128);
    CHECK(k.mv("P_KSTEP_COLS") == 8);
    // The comparison fails when the design moves: every field, one at a time.
    for (const DesignField& f : kDesignFields) {
      sm100_design::FwdDesign changed = *d;
      changed.*(f.field) += 8;
      CHECK_MESSAGE(!design_mismatches(k, changed).empty(), "design field " << f.macro << " changed and not noticed");
    }
    sm100_design::FwdDesign flipped = *d;
    flipped.p_aliases_s = !flipped.p_aliases_s;
    CHECK(!design_mismatches(k, flipped).empty());
  }
}

TEST_CASE("sm100a two-tile kernels: descriptor immediates and strides equal the host encoders") {
  for (const TwoTile& k : twotile()) {
    INFO(k.name);
    const int d = static_cast<int>(k.mv("KERNEL_HEAD_DIM")), bn = static_cast<int>(k.mv("KERNEL_BLOCK_N"));
    const int qn = static_cast<int>(k.mv("KERNEL_QK_N"));
    CHECK(s::mma_f16_shape_ok(128, qn));  // S = Q K^T: M = 128, N = QK_N (a half when P aliases S)
    CHECK(s::mma_f16_shape_ok(128, d));   // O += P V: M = 128, N = head dim
    CHECK(k.mv("QK_HALVES") * qn == bn);
    CHECK(k.mv("QK_HALVES") == (k.mv("P_ALIAS_S") ? 2 : 1));
    CHECK(static_cast<uint32_t>(k.mv("IDESC_QK")) == s::fwd_idesc_qk(qn));
    CHECK(static_cast<uint32_t>(k.mv("IDESC_PV")) == s::fwd_idesc_pv(d));
    const uint64_t kmaj = (static_cast<uint64_t>(k.mv("SDESC_KMAJ_HI")) << 32) | static_cast<uint64_t>(k.mv("SDESC_KMAJ_LO"));
    CHECK(kmaj == s::kmajor_sw128_desc(0));
    const uint64_t vdesc = (static_cast<uint64_t>(k.mv("SDESC_V_HI")) << 32) | static_cast<uint64_t>(k.mv("SDESC_V_LO"));
    CHECK(vdesc == s::mnmajor_sw128_desc(0, bn));
    CHECK(k.mv("Q_BOX_ENC") == (s::kmajor_sw128_kstep_bytes(4, 128) >> 4));
    CHECK(k.mv("KV_BOX_ENC") == (s::kmajor_sw128_kstep_bytes(4, bn) >> 4));
    CHECK(k.mv("Q_TILE_ENC") == (k.mv("SMEM_Q_TILE_BYTES") >> 4));
    CHECK(k.mv("KV_SLOT_ENC") == (k.mv("KV_SLOT_BYTES") >> 4));
    CHECK(k.mv("QK_HALF_ENC") == ((qn * 128) >> 4));
    CHECK(k.mv("PV_KSTEP_ENC") == (s::mnmajor_sw128_kstep_bytes(1) >> 4));
    CHECK(k.mv("QK_KSTEPS") == d / 16);
    CHECK(k.mv("PV_KSTEPS") == bn / 16);
    CHECK(k.mv("P_KSTEP_COLS") == static_cast<long long>(s::tmem_a_f16_cols(16)));
  }
}

TEST_CASE("sm100a two-tile kernels: shared-memory map and barrier block are consistent, aligned and fit") {
  for (const TwoTile& k : twotile()) {
    INFO(k.name);
    const long long d = k.mv("KERNEL_HEAD_DIM"), bn = k.mv("KERNEL_BLOCK_N"), T = k.mv("KERNEL_Q_TILES");
    const long long R = k.mv("KERNEL_KV_SLOTS");
    CHECK(k.mv("SMEM_Q_OFF") == 0);
    CHECK(k.mv("SMEM_Q_TILE_BYTES") == 128 * d * 2);
    CHECK(k.mv("Q_BOX_BYTES") * (d / 64) == k.mv("SMEM_Q_TILE_BYTES"));
    CHECK(k.mv("SMEM_KV_OFF") == T * k.mv("SMEM_Q_TILE_BYTES"));
    CHECK(k.mv("KV_SLOT_BYTES") == bn * d * 2);
    CHECK(k.mv("KV_BOX_BYTES") * (d / 64) == k.mv("KV_SLOT_BYTES"));
    CHECK(k.mv("SMEM_O_OFF") == k.mv("SMEM_KV_OFF") + R * k.mv("KV_SLOT_BYTES"));
    CHECK(k.mv("O_STAGE_BYTES") == 128 * d * 2);
    CHECK(k.mv("O_BOX_BYTES") * (d / 64) == k.mv("O_STAGE_BYTES"));
    CHECK(k.mv("O_STORE_BYTES") * (128 / k.mv("O_STORE_ROWS")) == k.mv("O_BOX_BYTES"));
    CHECK(k.mv("SMEM_STATS_OFF") == k.mv("SMEM_O_OFF") + k.mv("O_STAGE_BYTES"));
    CHECK(k.mv("STATS_BYTES") >= T * k.mv("STATS_TILE_BYTES"));
    CHECK(k.mv("STATS_TILE_BYTES") == 128 * 4);
    CHECK(k.mv("SMEM_BAR_OFF") == k.mv("SMEM_STATS_OFF") + k.mv("STATS_BYTES"));
    CHECK(k.mv("KERNEL_SMEM_BYTES") == k.mv("SMEM_ALIGN_SLACK") + k.mv("SMEM_BAR_OFF") + k.mv("SMEM_BAR_BYTES"));
    CHECK(k.mv("KERNEL_SMEM_BYTES") <= sm100_design::kSmemLimit);
    // Every tile, slot, box and 16-row O store group starts on a 1024-byte boundary (the
    // 128B-swizzle pattern of TMA and of the descriptors, base offset 0).
    for (const char* m : {"SMEM_Q_OFF", "SMEM_Q_TILE_BYTES", "Q_BOX_BYTES", "SMEM_KV_OFF", "KV_SLOT_BYTES", "KV_BOX_BYTES",
                          "SMEM_O_OFF", "O_BOX_BYTES", "O_STORE_BYTES", "SMEM_STATS_OFF", "SMEM_BAR_OFF"}) {
      INFO(m);
      CHECK(k.mv(m) % 1024 == 0);
    }
    // Barrier block: 8-byte mbarriers, disjoint, in the block; the TMEM slot after them.
    struct Range { const char* name; long long off, bytes; };
    const std::vector<Range> bars = {
        {"BAR_Q_FULL", k.mv("BAR_Q_FULL"), 8 * T},         {"BAR_Q_EMPTY", k.mv("BAR_Q_EMPTY"), 8 * T},
        {"BAR_KV_FULL", k.mv("BAR_KV_FULL"), 8 * R},       {"BAR_KV_EMPTY", k.mv("BAR_KV_EMPTY"), 8 * R},
        {"BAR_S_FULL", k.mv("BAR_S_FULL"), 16},            {"BAR_P_FULL", k.mv("BAR_P_FULL"), 16},
        {"BAR_O_READY", k.mv("BAR_O_READY"), 8 * T},       {"BAR_O_FULL", k.mv("BAR_O_FULL"), 8 * T},
        {"BAR_STATS_FULL", k.mv("BAR_STATS_FULL"), 8 * T}, {"BAR_STATS_EMPTY", k.mv("BAR_STATS_EMPTY"), 8 * T},
        {"TMEM_SLOT", k.mv("TMEM_SLOT"), 4},               {"BAR_V_LAND", k.mv("BAR_V_LAND"), 8}};  // v_land: EXT rows
    for (std::size_t a = 0; a < bars.size(); ++a) {
      INFO(bars[a].name);
      CHECK(bars[a].off % 8 == 0);
      CHECK(bars[a].off + bars[a].bytes <= k.mv("SMEM_BAR_BYTES"));
      for (std::size_t b = a + 1; b < bars.size(); ++b)
        CHECK((bars[a].off + bars[a].bytes <= bars[b].off || bars[b].off + bars[b].bytes <= bars[a].off));
    }
    CHECK(k.mv("P_FULL_ARRIVALS") == 128);
    CHECK(k.mv("O_READY_ARRIVALS") == 128);
    CHECK(k.mv("STATS_ARRIVALS") == 128);
    CHECK(k.mv("KERNEL_THREADS") == 128 * (T + 2));
    CHECK((1LL << k.mv("LOG2_BLOCK_N")) == bn);
    CHECK((1LL << k.mv("LOG2_Q_TILES")) == T);
    CHECK(k.mv("KV_LEAD") == (T == 2 ? 1 : 2));
  }
}

TEST_CASE("sm100a two-tile kernels: TMEM map (S, P, O within 512 columns, disjoint; P over the upper half of S when aliased)") {
  for (const TwoTile& k : twotile()) {
    INFO(k.name);
    const long long d = k.mv("KERNEL_HEAD_DIM"), bn = k.mv("KERNEL_BLOCK_N"), T = k.mv("KERNEL_Q_TILES");
    const long long alloc = k.mv("TMEM_ALLOC_COLS");
    CHECK(s::tmem_alloc_cols_ok(static_cast<uint32_t>(alloc)));
    CHECK(alloc <= static_cast<long long>(s::kTmemColumns));
    std::vector<int> owner(static_cast<std::size_t>(alloc), -1);
    int clashes = 0, outside = 0;
    auto claim = [&](long long c0, long long n, int who) {
      for (long long c = c0; c < c0 + n; ++c) {
        if (c < 0 || c >= alloc) { ++outside; continue; }
        if (owner[static_cast<std::size_t>(c)] != -1 && owner[static_cast<std::size_t>(c)] != who) ++clashes;
        owner[static_cast<std::size_t>(c)] = who;
      }
    };
    for (int b = 0; b < 2; ++b) claim(k.mv("TMEM_COL_S0") + b * k.mv("S_BUF_COLS"), bn, b);
    for (int t = 0; t < T; ++t) claim(k.mv("TMEM_COL_O0") + t * k.mv("O_BUF_COLS"), d, 10 + t);
    CHECK(k.mv("S_BUF_COLS") >= bn);
    CHECK(k.mv("O_BUF_COLS") >= d);
    for (int b = 0; b < 2; ++b) {
      const long long p0 = k.mv("TMEM_COL_P0") + b * k.mv("P_BUF_COLS");
      if (k.mv("P_ALIAS_S")) {
        // P_b = the upper half of S_b: written by the softmax after it has loaded all of S_b.
        CHECK(p0 == k.mv("TMEM_COL_S0") + b * k.mv("S_BUF_COLS") + bn / 2);
      } else {
        claim(p0, bn / 2, 20 + b);
      }
    }
    CHECK(clashes == 0);
    CHECK(outside == 0);
    CHECK(k.mv("PV_KSTEPS") * k.mv("P_KSTEP_COLS") == bn / 2);
    // A warp reaches lanes 32 (w % 4) .. + 31 only: the roles add (w % 4) << 21.
    CHECK(s::tmem_addr(32, 0) == (1u << k.mv("TMEM_WARP_QUARTER_SHIFT")));
  }
}

TEST_CASE("sm100a two-tile kernels: every MMA K-step reads exactly the bytes TMA wrote (Q tiles, both S halves, V)") {
  const uint32_t base = 0x400;  // a 1024-aligned dynamic shared memory base
  for (const TwoTile& k : twotile()) {
    INFO(k.name);
    const uint32_t d = static_cast<uint32_t>(k.mv("KERNEL_HEAD_DIM")), bn = static_cast<uint32_t>(k.mv("KERNEL_BLOCK_N"));
    const uint32_t qn = static_cast<uint32_t>(k.mv("KERNEL_QK_N"));
    const uint32_t kmaj_lo = static_cast<uint32_t>(k.mv("SDESC_KMAJ_LO")), kmaj_hi = static_cast<uint32_t>(k.mv("SDESC_KMAJ_HI"));
    const uint32_t v_lo = static_cast<uint32_t>(k.mv("SDESC_V_LO")), v_hi = static_cast<uint32_t>(k.mv("SDESC_V_HI"));
    auto desc = [](uint32_t hi, uint32_t lo) { return (static_cast<uint64_t>(hi) << 32) | lo; };
    int bad = 0;
    // The MMA warp's arithmetic (mma.ptxh): lo0 = (address >> 4) | LBO field, then + tile x
    // Q_TILE_ENC / slot x KV_SLOT_ENC / half x QK_HALF_ENC + (kk & 3) x 2 + (kk >> 2) x BOX_ENC.
    const uint32_t dq_lo0 = ((base + static_cast<uint32_t>(k.mv("SMEM_Q_OFF"))) >> 4) | kmaj_lo;
    const uint32_t dkv_lo0 = ((base + static_cast<uint32_t>(k.mv("SMEM_KV_OFF"))) >> 4) | kmaj_lo;
    const uint32_t dv_lo0 = ((base + static_cast<uint32_t>(k.mv("SMEM_KV_OFF"))) >> 4) | v_lo;
    for (uint32_t t = 0; t < static_cast<uint32_t>(k.mv("KERNEL_Q_TILES")); ++t) {
      const uint32_t tile = base + static_cast<uint32_t>(k.mv("SMEM_Q_OFF") + t * k.mv("SMEM_Q_TILE_BYTES"));
      for (uint32_t kk = 0; kk < d / 16; ++kk) {
        const uint64_t de = desc(kmaj_hi, dq_lo0 + t * static_cast<uint32_t>(k.mv("Q_TILE_ENC")) + (kk & 3u) * 2u +
                                              (kk >> 2) * static_cast<uint32_t>(k.mv("Q_BOX_ENC")));
        for (uint32_t m = 0; m < 128; ++m)
          for (uint32_t kc = 0; kc < 16; ++kc) {
            const uint32_t c = 16 * kk + kc;
            const uint32_t want = tma_sw128_addr(tile + (c / 64) * static_cast<uint32_t>(k.mv("Q_BOX_BYTES")), m, 2 * (c % 64));
            if (kmajor_desc_addr(de, m, kc) != want && bad++ < 5) FAIL_CHECK("Q" << t << " m=" << m << " c=" << c);
          }
      }
    }
    for (uint32_t r = 0; r < static_cast<uint32_t>(k.mv("KERNEL_KV_SLOTS")); ++r) {
      const uint32_t slot = base + static_cast<uint32_t>(k.mv("SMEM_KV_OFF") + r * k.mv("KV_SLOT_BYTES"));
      // K: S half h reads key rows [h qn, h qn + qn) of the slot's K tile.
      for (uint32_t h = 0; h < bn / qn; ++h)
        for (uint32_t kk = 0; kk < d / 16; ++kk) {
          const uint64_t de = desc(kmaj_hi, dkv_lo0 + r * static_cast<uint32_t>(k.mv("KV_SLOT_ENC")) +
                                                h * static_cast<uint32_t>(k.mv("QK_HALF_ENC")) + (kk & 3u) * 2u +
                                                (kk >> 2) * static_cast<uint32_t>(k.mv("KV_BOX_ENC")));
          for (uint32_t n = 0; n < qn; ++n)
            for (uint32_t kc = 0; kc < 16; ++kc) {
              const uint32_t c = 16 * kk + kc;
              const uint32_t want = tma_sw128_addr(slot + (c / 64) * static_cast<uint32_t>(k.mv("KV_BOX_BYTES")), h * qn + n, 2 * (c % 64));
              if (kmajor_desc_addr(de, n, kc) != want && bad++ < 5) FAIL_CHECK("K slot " << r << " half " << h << " n=" << n << " c=" << c);
            }
        }
      // V (MN-major): element (key 16 kk + kc, head-dim column n).
      for (uint32_t kk = 0; kk < bn / 16; ++kk) {
        const uint64_t de = desc(v_hi, dv_lo0 + r * static_cast<uint32_t>(k.mv("KV_SLOT_ENC")) + kk * static_cast<uint32_t>(k.mv("PV_KSTEP_ENC")));
        for (uint32_t n = 0; n < d; ++n)
          for (uint32_t kc = 0; kc < 16; ++kc) {
            const uint32_t key = 16 * kk + kc;
            const uint32_t want = tma_sw128_addr(slot + (n / 64) * static_cast<uint32_t>(k.mv("KV_BOX_BYTES")), key, 2 * (n % 64));
            if (mnmajor_desc_addr(de, n, kc) != want && bad++ < 5) FAIL_CHECK("V slot " << r << " key=" << key << " n=" << n);
          }
      }
    }
    CHECK(bad == 0);
  }
}

// The MMA warp's own arithmetic: its thread executed on the CPU (tests/sm100_model/ptx_exec.h)
// over work tiles of several KV tiles issues, for every S and PV, exactly the descriptors the
// previous test showed to read the bytes TMA wrote (and the CUTLASS cross-check shows equal to
// CUTLASS's), K-step by K-step: Q tile t, K ring slot r and S half h; P buffer b (TMEM) and V
// slot r; the instruction descriptors; accumulate off exactly at each GEMM's first K-step (PV: of
// the work tile's first KV tile).
TEST_CASE("sm100a two-tile kernels: the executed MMA warp issues every descriptor and K-step of the maps") {
  for (const TwoTile& k : twotile()) {
    INFO(k.name);
    bool ok = false;
    const std::string text = ptxfmha_test::read_text_file(ptxfmha_test::preprocessed_path("sm100a", k.name), &ok);
    REQUIRE_MESSAGE(ok, "build/ptx/sm100a/" << k.name << ".ptx is missing (`make cubins` writes it)");
    const std::vector<sm100_ptx::Stmt> st = sm100_ptx::parse_statements(text);
    const uint32_t base = 0x400;
    const int T = static_cast<int>(k.mv("KERNEL_Q_TILES")), R = static_cast<int>(k.mv("KERNEL_KV_SLOTS"));
    const int d = static_cast<int>(k.mv("KERNEL_HEAD_DIM")), bn = static_cast<int>(k.mv("KERNEL_BLOCK_N"));
    const int qn = static_cast<int>(k.mv("KERNEL_QK_N")), bm = static_cast<int>(k.mv("KERNEL_BLOCK_M"));
    // Non-causal, 5 KV tiles per work tile, 3 work tiles on one CTA.
    const int sq = 3 * bm - 5, sk = 5 * bn - 3;
    sm100_exec::Thread th(st, k.macros);
    th.tid = static_cast<uint32_t>(32 * k.mv("WARP_MMA"));
    th.smem_symbol = base;
    const int n_m = (sq + bm - 1) / bm;
    auto at = [&](const char* m) { return k.mv(m); };
    th.params = {{at("P_SEQLEN_Q"), static_cast<uint64_t>(sq)}, {at("P_SEQLEN_K"), static_cast<uint64_t>(sk)}, {at("P_HEADS_Q"), 1},
                 {at("P_GQA_RATIO"), 1}, {at("P_CAUSAL"), 0}, {at("P_NUM_M_BLOCKS"), static_cast<uint64_t>(n_m)}, {at("P_BATCH"), 1},
                 {at("P_TOTAL_TILES"), static_cast<uint64_t>(n_m)}, {at("P_HEAD_GROUP"), 1},
                 // the EXT variant with every feature off (what a plain call on it passes)
                 {at("PA_FEATURES"), 0}, {at("PA_WINDOW_LEFT"), 0x7FFFFFFF}, {at("PA_WINDOW_RIGHT1"), 0x7FFFFFFF}};
    REQUIRE_MESSAGE(th.run(), th.error);
    // The maps' descriptors (lo words; hi words constant).
    const uint32_t kmaj_lo = static_cast<uint32_t>(k.mv("SDESC_KMAJ_LO")), v_lo = static_cast<uint32_t>(k.mv("SDESC_V_LO"));
    const uint64_t kmaj_hi = static_cast<uint64_t>(k.mv("SDESC_KMAJ_HI")) << 32, v_hi = static_cast<uint64_t>(k.mv("SDESC_V_HI")) << 32;
    const uint32_t dq0 = ((base + static_cast<uint32_t>(k.mv("SMEM_Q_OFF"))) >> 4) | kmaj_lo;
    const uint32_t dk0 = ((base + static_cast<uint32_t>(k.mv("SMEM_KV_OFF"))) >> 4) | kmaj_lo;
    const uint32_t dv0 = ((base + static_cast<uint32_t>(k.mv("SMEM_KV_OFF"))) >> 4) | v_lo;
    auto q_desc = [&](int t, int kk) {
      return kmaj_hi | (dq0 + t * k.mv("Q_TILE_ENC") + (kk & 3) * 2 + (kk >> 2) * k.mv("Q_BOX_ENC"));
    };
    auto k_desc = [&](int r, int h, int kk) {
      return kmaj_hi | (dk0 + r * k.mv("KV_SLOT_ENC") + h * k.mv("QK_HALF_ENC") + (kk & 3) * 2 + (kk >> 2) * k.mv("KV_BOX_ENC"));
    };
    auto v_desc = [&](int r, int kk) { return v_hi | (dv0 + r * k.mv("KV_SLOT_ENC") + kk * k.mv("PV_KSTEP_ENC")); };
    // Group the k-steps into GEMMs (consecutive MMAs into one accumulator address).
    std::vector<std::vector<sm100_exec::TraceEv>> gemms;
    uint64_t last = ~0ull;
    for (const sm100_exec::TraceEv& e : th.trace) {
      if (e.kind != "mma") { last = ~0ull; continue; }
      if (e.addr != last) gemms.emplace_back();
      gemms.back().push_back(e);
      last = e.addr;
    }
    int s_gemms = 0, pv_gemms = 0, bad = 0;
    for (const auto& g : gemms) {
      const sm100_exec::TraceEv& e0 = g.front();
      bool matched = false;
      if (!e0.a_tmem) {  // S = Q K^T: find (t, slot, half) for its first k-step, then check every k-step
        for (int b = 0; b < 2 && !matched; ++b)
          for (int h = 0; h < bn / qn && !matched; ++h) {
            if (e0.addr != static_cast<uint64_t>(k.mv("TMEM_COL_S0") + b * k.mv("S_BUF_COLS") + h * qn)) continue;
            for (int t = 0; t < T && !matched; ++t)
              for (int r = 0; r < R && !matched; ++r) {
                bool all = static_cast<int>(g.size()) == d / 16;
                for (int kk = 0; all && kk < static_cast<int>(g.size()); ++kk)
                  all = g[kk].a == static_cast<uint64_t>(q_desc(t, kk)) && g[kk].b == static_cast<uint64_t>(k_desc(r, h, kk)) &&
                        g[kk].idesc == static_cast<uint64_t>(k.mv("IDESC_QK")) && g[kk].acc == (kk > 0);
                matched = all;
              }
          }
        ++s_gemms;
      } else {  // O_t += P_b V
        for (int t = 0; t < T && !matched; ++t) {
          if (e0.addr != static_cast<uint64_t>(k.mv("TMEM_COL_O0") + t * k.mv("O_BUF_COLS"))) continue;
          for (int b = 0; b < 2 && !matched; ++b)
            for (int r = 0; r < R && !matched; ++r) {
              bool all = static_cast<int>(g.size()) == bn / 16;
              for (int kk = 0; all && kk < static_cast<int>(g.size()); ++kk)
                all = g[kk].a == static_cast<uint64_t>(k.mv("TMEM_COL_P0") + b * k.mv("P_BUF_COLS") + kk * k.mv("P_KSTEP_COLS")) &&
                      g[kk].b == static_cast<uint64_t>(v_desc(r, kk)) && g[kk].idesc == static_cast<uint64_t>(k.mv("IDESC_PV")) &&
                      (kk == 0 || g[kk].acc);
              matched = all;
            }
        }
        ++pv_gemms;
      }
      if (!matched && bad++ < 3) FAIL_CHECK("GEMM #" << s_gemms + pv_gemms << " (accumulator at column " << e0.addr << ") matches no Q/K/V/P placement of the maps");
    }
    // 3 work tiles x 5 KV tiles x Q_TILES: that many PVs, and S in QK_HALVES groups each; each
    // work tile's first PV of a Q tile overwrites O, every other accumulates.
    CHECK(pv_gemms == 3 * 5 * T);
    CHECK(s_gemms == 3 * 5 * T * static_cast<int>(k.mv("QK_HALVES")));
    int overwrites = 0;
    for (const auto& g : gemms)
      if (g.front().a_tmem && !g.front().acc) ++overwrites;
    CHECK(overwrites == 3 * T);
    CHECK(bad == 0);
  }
}

TEST_CASE("sm100a two-tile kernels: ptxas -v reports zero spills and stack, registers within the entry's budget") {
  for (const TwoTile& k : twotile()) {
    INFO(k.name);
    const std::string path = ptxfmha_test::ptxas_report_path("sm100a", k.name);
    bool ok = false;
    const std::string text = ptxfmha_test::read_text_file(path, &ok);
    REQUIRE_MESSAGE(ok, "ptxas report " << path << " is missing (`make cubins` writes it)");
    const ptxfmha_test::PtxasReport r = ptxfmha_test::parse_ptxas_report(text);
    REQUIRE(r.entries.size() == 1);
    CHECK(r.entries[0] == k.name);
    CHECK(r.spill_stores == 0);
    CHECK(r.spill_loads == 0);
    CHECK(r.stack_frame == 0);
    CHECK(r.static_smem == 0);
    CHECK(r.problems.empty());
    // The entry's count is what the launch reserves per thread: the CTA's register file share.
    CHECK(r.registers <= k.mv("REGS_ENTRY"));
    CHECK(k.mv("REGS_ENTRY") * k.mv("KERNEL_THREADS") <= 65536);
    CHECK(128 * (k.mv("KERNEL_Q_TILES") * k.mv("REGS_SOFTMAX") + k.mv("REGS_CORRECTION") + k.mv("REGS_OTHER")) <= 65536);
    MESSAGE(k.name << ": entry " << r.registers << " registers (budget " << k.mv("REGS_ENTRY") << "), 0 spills, "
                   << k.mv("KERNEL_SMEM_BYTES") << " B dynamic shared memory, " << k.mv("TMEM_ALLOC_COLS") << " TMEM columns");
  }
}

// ---- SASS contract -------------------------------------------------------------------------------
// Counts implied by the code's structure, as ptxas 13.0 assembles it (constant-trip K-step, box and
// chunk loops unrolled): S = Q K^T from two places (MMA_PROLOGUE, MMA_LOOP), QK_KSTEPS x QK_HALVES
// each (UTCHMMA with both operands gdesc); O += P V from one place, PV_KSTEPS (UTCHMMA with A =
// tmem); tcgen05.ld: BLOCK_N / 32 x32 loads of S (softmax), D / 16 x16 loads of O in the rescale
// and in the epilogue (correction); tcgen05.st: BLOCK_N / 32 x16 stores of P, D / 16 x16 stores of
// the rescaled O; 8 tcgen05.commit sites (UTCBAR); TMA loads: D / 64 boxes per Q tile site (2 sites
// at two Q tiles) and ring item; TMA stores: 8 x D / 64; three setmaxnreg (one per warpgroup kind)
// with the role budgets; MUFU.EX2 for all but EX2_POLY_COLS_PER_32 of every 32 columns, + alpha;
// packed FFMA2 / FADD2 (fma.rn.f32x2, add.f32x2); no local memory. Registers per role: the code
// from one USETMAXREG to the next (ptxas places each role's code behind its setmaxnreg) uses
// register indices below that setmaxnreg's count; the code before the first, below the entry's.
TEST_CASE("sm100a two-tile SASS contract: UTCHMMA per site, LDTM/STTM, UTCBAR, UTMALDG/UTMASTG, setmaxnreg budgets, no LDL/STL" *
          doctest::test_suite("sass")) {
  const std::string objdump = ptxfmha_test::cuobjdump_path();
  REQUIRE(!objdump.empty());
  for (const TwoTile& k : twotile()) {
    INFO(k.name);
    const std::string cubin = ptxfmha_test::cubin_file("sm100a", k.name);
    REQUIRE_MESSAGE(ptxfmha_test::file_exists(cubin), cubin << " is missing (`make cubins` writes it)");
    int rc = 0;
    const std::string text =
        ptxfmha_test::run_command(ptxfmha_test::shell_quote(objdump) + " -sass " + ptxfmha_test::shell_quote(cubin) + " 2>&1", &rc);
    REQUIRE(rc == 0);
    const std::vector<ptxfmha_test::SassFunction> fns = ptxfmha_test::parse_sass(text);
    REQUIRE(fns.size() == 1);
    const std::map<std::string, long long>& ops = fns[0].opcodes;
    auto count = [&](const char* op) { auto it = ops.find(op); return it == ops.end() ? 0LL : it->second; };
    const long long d = k.mv("KERNEL_HEAD_DIM"), bn = k.mv("KERNEL_BLOCK_N"), T = k.mv("KERNEL_Q_TILES");
    const int ss = count_of(text, "UTCHMMA gdesc["), ts = count_of(text, "UTCHMMA tmem[");
    CHECK(count("UTCHMMA") == ss + ts);
    CHECK(ss == 2 * k.mv("QK_KSTEPS") * k.mv("QK_HALVES"));
    CHECK(ts == k.mv("PV_KSTEPS"));
    CHECK(count_of(text, "LDTM.x32") == bn / 32);
    CHECK(count_of(text, "LDTM.x16") == 2 * d / 16);
    CHECK(count("LDTM") == bn / 32 + 2 * d / 16);
    CHECK(count_of(text, "STTM.x16") == bn / 32 + d / 16);
    CHECK(count("STTM") == bn / 32 + d / 16);
    CHECK(count("UTCBAR") == 8);
    // EXT (issue 14): the paged K/V boxes are a second K/V load site (D / 64 chunks unrolled).
    const long long ext = k.mv("KERNEL_VARIANT") == 1 ? 1 : 0;
    CHECK(count("UTMALDG") == (T + 1 + ext) * (d / 64));
    CHECK(count("UTMASTG") == 8 * (d / 64));
    CHECK(count("MUFU") >= 1);
    // EXT: two more MUFU.EX2 for the sink (alpha and the sink's term), and softcap's MUFU.TANH
    // once per column of S; the plain kernels have no tanh.
    CHECK(count_of(text, "MUFU.EX2") == (bn / 32) * (32 - k.mv("EX2_POLY_COLS_PER_32")) + 1 + 2 * ext);
    CHECK(count_of(text, "MUFU.TANH") == ext * bn);
    CHECK(count("FFMA2") > 0);
    CHECK(count("FADD2") > 0);
    CHECK(count_of(text, "UTCATOMSWS.FIND_AND_SET") >= 1);  // tcgen05.alloc
    CHECK(count_of(text, "UTCATOMSWS.AND") >= 1);           // tcgen05.dealloc
    CHECK(count("LDL") == 0);
    CHECK(count("STL") == 0);
    // setmaxnreg: one per warpgroup kind, with the role budgets; per-region register use.
    struct Ins { unsigned addr; std::string text; };
    std::vector<Ins> ins;
    static const std::regex ins_re(R"(^\s*/\*([0-9a-fA-F]{4,})\*/\s+([^;]*);)");
    for (const std::string& line : ptxfmha_test::split_lines(text)) {
      std::smatch m;
      if (std::regex_search(line, m, ins_re)) ins.push_back({static_cast<unsigned>(std::stoul(m[1].str(), nullptr, 16)), m[2].str()});
    }
    static const std::regex setmax_re(R"(USETMAXREG\.(DEALLOC|TRY_ALLOC)\.CTAPOOL\s+(?:U?P\w+,\s*)?0x([0-9a-fA-F]+))");
    static const std::regex reg_re(R"(\bR(\d+)\b)");
    std::vector<std::pair<long long, long long>> regions;  // (budget, max register index + 1)
    long long budget = k.mv("REGS_ENTRY"), used = 0;
    std::map<long long, int> grants;
    for (const Ins& i : ins) {
      std::smatch m;
      if (std::regex_search(i.text, m, setmax_re)) {
        regions.push_back({budget, used});
        budget = std::stoll(m[2].str(), nullptr, 16);
        ++grants[budget];
        used = 0;
        continue;
      }
      for (auto it = std::sregex_iterator(i.text.begin(), i.text.end(), reg_re); it != std::sregex_iterator(); ++it)
        used = std::max(used, std::stoll((*it)[1].str()) + 1);
    }
    regions.push_back({budget, used});
    CHECK(grants.size() == 3);
    CHECK(grants.count(k.mv("REGS_SOFTMAX")) == 1);
    CHECK(grants.count(k.mv("REGS_CORRECTION")) == 1);
    CHECK(grants.count(k.mv("REGS_OTHER")) == 1);
    std::string per;
    for (const auto& r : regions) {
      CHECK_MESSAGE(r.second <= r.first, "a role uses " << r.second << " registers, setmaxnreg grants " << r.first);
      per += " " + std::to_string(r.second) + "/" + std::to_string(r.first);
    }
    MESSAGE(k.name << ": UTCHMMA " << count("UTCHMMA") << " (SS " << ss << ", TS " << ts << "), LDTM " << count("LDTM") << ", STTM "
                   << count("STTM") << ", UTCBAR " << count("UTCBAR") << ", UTMALDG " << count("UTMALDG") << ", UTMASTG "
                   << count("UTMASTG") << ", MUFU.EX2 " << count_of(text, "MUFU.EX2") << ", FFMA2 " << count("FFMA2")
                   << "; registers used/granted per region (setup, then in code order):" << per);
  }
}

// ptxfmha_fwd on a compute capability 10.x device: 10.0 runs the two-tile kernels; any other 10.x
// (10.1, 10.3, ...) cannot run sm_100a code and gets PTXFMHA_ERR_UNSUPPORTED_ARCH with a message
// naming its compute capability and what to do, from require_arch (fwd.cpp calls it right after
// acquiring the device, before any kernel row, module or launch).
TEST_CASE("sm100a arch selection: cc 10.0 picks the two-tile kernels, other 10.x are refused before any launch") {
  CHECK(std::string(ptxfmha::arch_for_cc(10, 0)) == "sm100a");
  for (int d : ptxfmha_test::kHeadDims) {
    const ptxfmha::KernelInfo* r = ptxfmha::find_kernel(100, ptxfmha::KernelKind::Fwd, d);
    REQUIRE(r != nullptr);
    CHECK(std::string(r->name) == "fmha_fwd_d" + std::to_string(d) + "_sm100a");
  }
  ptxfmha::DeviceInfo ok;
  ok.cc_major = 10;
  ok.cc_minor = 0;
  ok.sm = 100;
  ok.arch = ptxfmha::arch_for_cc(10, 0);
  CHECK(ptxfmha::require_arch(ok) == PTXFMHA_OK);
  for (int minor : {1, 2, 3, 7}) {
    CAPTURE(minor);
    CHECK(ptxfmha::arch_for_cc(10, minor) == nullptr);
    CHECK(ptxfmha::find_kernel(100 + minor, ptxfmha::KernelKind::Fwd, 128) == nullptr);
    ptxfmha::DeviceInfo dev;
    dev.device = 1;
    dev.cc_major = 10;
    dev.cc_minor = minor;
    dev.sm = 100 + minor;
    dev.arch = ptxfmha::arch_for_cc(10, minor);
    ptxfmha::clear_last_error();
    CHECK(ptxfmha::require_arch(dev) == PTXFMHA_ERR_UNSUPPORTED_ARCH);
    const std::string msg = ptxfmha::last_error_message();
    CHECK_MESSAGE(msg.find("10." + std::to_string(minor)) != std::string::npos, msg);  // names the cc
    CHECK_MESSAGE(msg.find("sm_100a") != std::string::npos, msg);                       // what it lacks
    CHECK_MESSAGE(msg.find("10.0") != std::string::npos, msg);                          // and what to do
    CHECK_MESSAGE(msg.find("sm_10" + std::to_string(minor) + "a") != std::string::npos, msg);
  }
  // Hopper and the unsupported majors are unchanged.
  CHECK(std::string(ptxfmha::arch_for_cc(9, 0)) == "sm90a");
  CHECK(ptxfmha::arch_for_cc(11, 0) == nullptr);
  CHECK(ptxfmha::arch_for_cc(12, 0) == nullptr);
}
