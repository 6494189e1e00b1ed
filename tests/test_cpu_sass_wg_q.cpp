// SASS contract of the decode warpgroup rows (_wg, _wg_cl, _e4m3_wg, _e4m3_wg_cl; test suite
// "sass"): the wgmmas' register A operands are intact while a wgmma reads them: Q's fragments at
// every QK of the main loop, P's from every P V until its wait.
//
// Found on the H200 (s14, 2026-12-03): with f16 operands at head dim 64 (the first build of the
// _e4m3_wg row) ptxas (CUDA 13.0) gave Q's registers to P and to the softmax's temporaries after
// the loop's QK wgmma and never restored them, so every tile after the first multiplied P (not
// Q) by K: rel. L2 0.04-0.25 against float64. bf16 at head dim 64 and f16 at 128 keep Q. The
// d64 e4m3 rows then reloaded Q from shared memory before every QK; since 2026-12-04 (the
// pipelined loop, mainloop_wg_e4m3_pipe.ptxh) the e4m3 rows' QK (d64 and d128; d256 since
// 2026-12-05, s21) reads Q as a shared-memory operand (no Q registers: the check finds the e4m3
// QK wgmmas, QGMMA, with a descriptor A and none with register A), as the d256 16-bit rows' QK
// wgmmas read their Q tile.
//
// The check, on the SASS ptxas laid out: the main loop is the smallest backward branch whose
// body holds a QK wgmma (HGMMA without .tnspB) and a P V wgmma (.tnspB). For each register of
// each QK's A operand (4 from the HGMMA's second operand), the nearest earlier write in the loop
// (walking back from the QK to the loop head, then on from the back edge) must be a shared-memory
// load (LDS: a reload) or there must be none (Q lives through the loop). For each P V wgmma of
// the loop, nothing may write its A registers (P) from the wgmma to the first wait for every
// group (WARPGROUP.DEPBAR.LE gsb0, 0x0), walking on across the back edge: the pipelined loops
// run the softmax, and the e4m3 one the conversions, while their P V runs.
// Mutations: synthetic loops with a clobbered Q register and a clobbered P register (the cases
// below the first); the real artefact of the Q case (the d64 e4m3 row's first build) no longer
// exists in the tree (bench/DECODE_NOTES.md keeps the finding).
#include <doctest/doctest.h>

#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

#include "decode_rows.h"
#include "gpu_util.h"
#include "ptx_util.h"

using namespace ptxfmha_test;

namespace {

bool contains(const std::string& s, const char* p) { return s.find(p) != std::string::npos; }
// QK: a 16-bit wgmma (HGMMA) without .tnspB, or an e4m3 one (QGMMA: the d64 e4m3 rows' QK)
bool is_qk(const std::string& t) {
  return (contains(t, "HGMMA") || contains(t, "QGMMA")) && !contains(t, ".tnspB");
}
bool is_pv(const std::string& t) { return contains(t, "HGMMA") && contains(t, ".tnspB"); }

// The GPR an instruction writes first ("F2FP.F16.F32.PACK_AB R88, R25, R24" -> 88), or -1 for
// instructions whose first operand is not a written register (stores, barriers, HGMMA's
// accumulator, branches, predicates, RZ), and its width in registers (LDS.64: 2, LDS.128: 4).
int written_reg(const std::string& t, int* width, bool* lds) {
  static const std::regex re(R"(^(?:@!?U?P[0-9T]+\s+)?([A-Z][A-Z0-9_.]*)\s+R([0-9]+)\b)");
  std::smatch m;
  if (!std::regex_search(t, m, re)) return -1;
  const std::string op = m[1].str();
  for (const char* no : {"ST", "RED", "HGMMA", "BAR", "SYNCS", "BRA", "WARPGROUP"})
    if (op.rfind(no, 0) == 0) return -1;
  *lds = op.rfind("LDS", 0) == 0;
  *width = contains(op, ".128") ? 4 : contains(op, ".64") ? 2 : 1;
  if (!*lds) *width = 1;  // only the reload's width matters; others: the first register
  return std::atoi(m[2].str().c_str());
}

struct QCheck {
  std::string error;         // the loop could not be found
  int q_regs = 0;            // A registers of the loop's QK wgmmas checked
  std::vector<std::string> clobbered;  // "R88 by F2FP... at 0x27f0"
  int q_smem = 0;            // QK wgmmas of the loop with A from shared memory (a descriptor)
  int pv_checked = 0;        // P V wgmmas of the loop (A registers checked until their wait)
  std::vector<std::string> p_clobbered;  // their A registers written before the wait
};

QCheck check_q_registers(const std::vector<SassIns>& ins) {
  QCheck r;
  std::size_t lo = 0, hi = 0;
  bool found = false;
  for (std::size_t i = 0; i < ins.size(); ++i) {
    const std::string& t = ins[i].text;
    const std::size_t at = t.find("BRA 0x");
    if (at == std::string::npos) continue;
    const long target = std::strtol(t.c_str() + at + 4, nullptr, 16);
    if (target >= ins[i].addr) continue;
    std::size_t head = i;
    for (std::size_t j = 0; j < i; ++j)
      if (ins[j].addr == target) head = j;
    bool qk = false, pv = false;
    for (std::size_t j = head; j < i; ++j) {
      qk = qk || is_qk(ins[j].text);
      pv = pv || is_pv(ins[j].text);
    }
    if (qk && pv && (!found || i - head < hi - lo)) {
      lo = head;
      hi = i;
      found = true;
    }
  }
  if (!found) {
    r.error = "no loop holds both a QK and a P V wgmma";
    return r;
  }
  static const std::regex a_re(R"(HGMMA\S*\s+R[0-9]+,\s+R([0-9]+),)");
  for (std::size_t q = lo; q < hi; ++q) {
    if (!is_qk(ins[q].text)) continue;
    std::smatch m;
    if (!std::regex_search(ins[q].text, m, a_re)) {  // A from shared memory: no registers
      ++r.q_smem;
      continue;
    }
    const int a = std::atoi(m[1].str().c_str());
    for (int reg = a; reg < a + 4; ++reg) {
      ++r.q_regs;
      std::vector<std::size_t> order;
      for (std::size_t j = q; j-- > lo;) order.push_back(j);
      for (std::size_t j = hi; j > q; --j) order.push_back(j);
      for (std::size_t j : order) {
        int width = 1;
        bool lds = false;
        const int d = written_reg(ins[j].text, &width, &lds);
        if (d < 0 || reg < d || reg >= d + width) continue;
        if (!lds) {
          char at[32];
          std::snprintf(at, sizeof at, "%#lx", ins[j].addr);
          r.clobbered.push_back("R" + std::to_string(reg) + " by '" + ins[j].text + "' at " + at);
        }
        break;
      }
    }
  }
  // Each P V wgmma: nothing may write its A registers (P) from the wgmma to the first wait for
  // every group (DEPBAR.LE gsb0, 0x0; a wait for all but one leaves the P V running), walking on
  // across the back edge.
  for (std::size_t pv = lo; pv < hi; ++pv) {
    if (!is_pv(ins[pv].text)) continue;
    std::smatch m;
    if (!std::regex_search(ins[pv].text, m, a_re)) continue;
    ++r.pv_checked;
    const int a = std::atoi(m[1].str().c_str());
    std::vector<std::size_t> order;
    for (std::size_t j = pv + 1; j <= hi; ++j) order.push_back(j);
    for (std::size_t j = lo; j < pv; ++j) order.push_back(j);
    for (std::size_t j : order) {
      const std::string& t = ins[j].text;  // "WARPGROUP.DEPBAR.LE gsb0, 0x0": no group left
      if (contains(t, "WARPGROUP.DEPBAR") && t.size() >= 5 && t.compare(t.size() - 5, 5, ", 0x0") == 0) break;
      int width = 1;
      bool lds = false;
      const int d = written_reg(ins[j].text, &width, &lds);
      if (d >= a + 4 || d < 0 || d + width <= a) continue;
      char at[32];
      std::snprintf(at, sizeof at, "%#lx", ins[j].addr);
      r.p_clobbered.push_back("R" + std::to_string(d) + " by '" + ins[j].text + "' at " + at);
    }
  }
  return r;
}

}  // namespace

TEST_CASE("SASS: the decode warpgroup rows keep Q's and P's fragments intact while their wgmmas read them" *
          doctest::test_suite("sass")) {
  const std::string tool = cuobjdump_path();
  REQUIRE(!tool.empty());
  int rows = 0;
  for (const ptxfmha::KernelInfo* r : ptxfmha::all_kernels()) {
    if (!ptxfmha::decode_row_wg(r)) continue;
    CAPTURE(r->name);
    int rc = 0;
    const std::string sass = run_command(shell_quote(tool) + " -sass " + shell_quote(cubin_file(r->arch, r->name)), &rc);
    REQUIRE(rc == 0);
    const QCheck c = check_q_registers(function_instructions(sass, r->name));
    CHECK_MESSAGE(c.error.empty(), c.error);
    // QK wgmmas: D/16 with Q in registers (4 A registers each), or with A in shared memory: the
    // d256 bf16 rows' 16-bit Q tile (D/16 k16 steps; O's 128 registers leave no room for Q's 64)
    // and the e4m3 rows' (WG 2) 2 x D/32 e4m3 ones (QGMMA k32: Q lo's and Q hi's tiles)
    const ptxfmha::DecodeRowFacts* f = ptxfmha::decode_row_facts(r);
    const bool q_e4m3 = f->kv_bytes == 1 && f->wg >= 2;
    const bool q_tile = q_e4m3 || r->head_dim == 256;
    CHECK(c.q_regs == (q_tile ? 0 : r->head_dim / 16 * 4));
    CHECK(c.q_smem == (!q_tile ? 0 : q_e4m3 ? 2 * (r->head_dim / 32) : r->head_dim / 16));
    CHECK_MESSAGE(c.clobbered.empty(), c.clobbered.size() << " Q registers clobbered, first: "
                                                           << (c.clobbered.empty() ? "" : c.clobbered.front()));
    // 4 P V wgmmas per tile (k16 steps of 64 keys); WG 4 twice 4 (O's column halves, m64n128k16)
    CHECK(c.pv_checked == (f->wg == 4 ? 8 : 4));
    CHECK_MESSAGE(c.p_clobbered.empty(), c.p_clobbered.size() << " writes to an in-flight P V's A registers, first: "
                                                               << (c.p_clobbered.empty() ? "" : c.p_clobbered.front()));
    ++rows;
  }
  CHECK(rows == 16);  // _wg, _wg_cl, _e4m3_wg, _e4m3_wg_cl at head dims 64, 128 and 256; d256 _e4m3_wgc(_cl),
                     // _e4m3_wg2c(_cl)
}

TEST_CASE("SASS P-register check: a write to an in-flight P V wgmma's A registers is caught") {
  // a loop whose P V (A = R88..R91) runs across the back edge; the head writes R90 before the wait
  std::vector<SassIns> ins = {
      {0x100, "LDS.64 R20, [R4]"},
      {0x110, "MOV R90, R20"},
      {0x120, "WARPGROUP.DEPBAR.LE gsb0, 0x0"},
      {0x130, "LDS.128 R88, [R5]"},
      {0x140, "HGMMA.64x64x16.F32 R24, R88, gdesc[UR8], RZ, !UPT, gsb0"},
      {0x150, "WARPGROUP.DEPBAR.LE gsb0, 0x0"},
      {0x160, "F2FP.F16.F32.PACK_AB R88, R25, R24"},
      {0x170, "HGMMA.64x64x16.F32 R56, R88, gdesc[UR8].tnspB, R56, gsb0"},
      {0x180, "@P1 BRA 0x100"},
  };
  QCheck c = check_q_registers(ins);
  CHECK(c.error.empty());
  CHECK(c.q_regs == 4);
  CHECK(c.clobbered.empty());  // Q reloaded (LDS.128) before its QK
  CHECK(c.pv_checked == 1);
  REQUIRE(c.p_clobbered.size() == 1);
  CHECK(c.p_clobbered.front().find("R90 by 'MOV R90, R20' at 0x110") == 0);
  ins[1].text = "MOV R40, R20";  // the same loop without the write
  c = check_q_registers(ins);
  CHECK(c.p_clobbered.empty());
}

TEST_CASE("SASS Q-register check: a write to a QK wgmma's A registers without a reload is caught") {
  // the d64 e4m3 row's first build in miniature: Q (R88..R91) converted before the loop, the
  // softmax's F2FP writes R89 after the QK, nothing reloads it
  std::vector<SassIns> ins = {
      {0x100, "F2FP.F16.F32.PACK_AB R89, R25, R24"},
      {0x110, "WARPGROUP.ARRIVE"},
      {0x120, "HGMMA.64x64x16.F32 R24, R88, gdesc[UR8], RZ, !UPT, gsb0"},
      {0x130, "WARPGROUP.DEPBAR.LE gsb0, 0x0"},
      {0x140, "F2FP.F16.F32.PACK_AB R120, R25, R24"},
      {0x150, "HGMMA.64x64x16.F32 R56, R120, gdesc[UR4].tnspB, R56, gsb0"},
      {0x160, "WARPGROUP.DEPBAR.LE gsb0, 0x0"},
      {0x170, "@P1 BRA 0x100"},
  };
  QCheck c = check_q_registers(ins);
  CHECK(c.error.empty());
  CHECK(c.q_regs == 4);
  REQUIRE(c.clobbered.size() == 1);
  CHECK(c.clobbered.front().find("R89 by 'F2FP.F16.F32.PACK_AB R89, R25, R24' at 0x100") == 0);
  CHECK(c.pv_checked == 1);
  CHECK(c.p_clobbered.empty());
  ins[0].text = "LDS.128 R88, [R5]";  // the reload: clean
  c = check_q_registers(ins);
  CHECK(c.clobbered.empty());
  ins[0].text = "MOV R40, R20";  // Q untouched in the loop: clean
  c = check_q_registers(ins);
  CHECK(c.clobbered.empty());
  // a P V that a wait for all but one group leaves running: its A registers stay checked
  ins[6].text = "WARPGROUP.DEPBAR.LE gsb0, 0x1";
  ins[0].text = "MOV R121, R20";
  c = check_q_registers(ins);
  REQUIRE(c.p_clobbered.size() == 1);
  CHECK(c.p_clobbered.front().find("R121 by 'MOV R121, R20' at 0x100") == 0);
}
