// What an sm100a forward kernel does, read from its macros (cpp -dM) and its preprocessed PTX,
// for the CUTLASS cross-check (tests/test_cpu_sm100a_cutlass.cpp, its only includer): the Plan of
// descriptors, K-steps and TMEM columns each family computes (serial_plan, two_tile_plan), and
// the softmax's P placement followed through the PTX (p_placement). No CUTLASS here: the
// cross-check computes CUTLASS's side and compares.
#ifndef PTXFMHA_TESTS_SM100A_CUTLASS_KERNEL_H
#define PTXFMHA_TESTS_SM100A_CUTLASS_KERNEL_H

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ptx_util.h"
#include "sm100_desc.h"
#include "sm100_model/design.h"
#include "sm100_model/ptx_roles.h"

namespace sm100a_xcheck {

namespace hs = ptxfmha::sm100;
using Macros = std::map<std::string, std::string>;

inline long long mval(const Macros& m, const std::string& k, const std::string& who) {
  auto it = m.find(k);
  if (it == m.end()) throw std::runtime_error(who + " does not define " + k);
  ptxfmha_test::IntExpr ev(m);
  long long v = 0;
  std::string err;
  if (!ev.eval(it->second, &v, &err)) throw std::runtime_error(who + ": cannot evaluate " + k + ": " + err);
  return v;
}

// ---- what a kernel (or a design row) does, from its macros -------------------------------------
struct Plan {
  std::string name;
  bool two_tile = false;
  int d = 0, bn = 0, qk_n = 0, q_tiles = 1, halves = 1;
  bool p_in_smem = false, p_aliases_s = false;
  int alloc_cols = 0;
  std::vector<uint32_t> k_tiles, v_tiles, q_tiles_off, p_bufs;  // byte offsets from the smem base
  int s_bufs = 2;
  // The kernel's arithmetic (from the PTX: ISSUE_S / the PV loop of sm100_fwd_body.ptxh for the
  // serial family; the design doc's macro contract for the two-tile family).
  std::function<uint64_t(uint32_t base, int qt, int kk)> q_desc;
  std::function<uint64_t(uint32_t base, int tile, int half, int kk)> k_desc;
  std::function<uint64_t(uint32_t base, int tile, int kk)> v_desc;
  std::function<uint64_t(uint32_t base, int buf, int kk)> p_desc;  // P in smem
  std::function<uint32_t(int buf, int half)> s_col;
  std::function<uint32_t(int buf, int kk)> p_col;                  // TS A operand column of K-step kk
  std::function<uint32_t(int t)> o_col;
  uint32_t idesc_qk = 0, idesc_pv = 0;
};

inline Plan serial_plan(const std::string& name, const Macros& m) {
  auto v = [&](const char* k) { return mval(m, k, name); };
  Plan p;
  p.name = name;
  p.d = static_cast<int>(v("KERNEL_HEAD_DIM"));
  p.bn = static_cast<int>(v("KERNEL_BLOCK_N"));
  p.qk_n = p.bn;
  p.p_in_smem = v("KERNEL_P_IN_SMEM") != 0;
  p.alloc_cols = static_cast<int>(v("TMEM_ALLOC_COLS"));
  for (int s = 0; s < v("KERNEL_STAGES"); ++s) {
    p.k_tiles.push_back(static_cast<uint32_t>(v("SMEM_K_OFF") + s * v("KV_STAGE_BYTES")));
    p.v_tiles.push_back(static_cast<uint32_t>(v("SMEM_V_OFF") + s * v("KV_STAGE_BYTES")));
  }
  p.q_tiles_off = {static_cast<uint32_t>(v("SMEM_Q_OFF"))};
  if (p.p_in_smem)
    for (int b = 0; b < 2; ++b) p.p_bufs.push_back(static_cast<uint32_t>(v("SMEM_P_OFF") + b * v("P_BUF_BYTES")));
  const uint32_t kmaj_lo = static_cast<uint32_t>(v("SDESC_KMAJ_LO")), kmaj_hi = static_cast<uint32_t>(v("SDESC_KMAJ_HI"));
  const uint32_t v_lo = static_cast<uint32_t>(v("SDESC_V_LO")), v_hi = static_cast<uint32_t>(v("SDESC_V_HI"));
  const uint32_t q_off = static_cast<uint32_t>(v("SMEM_Q_OFF")), k_off = static_cast<uint32_t>(v("SMEM_K_OFF")),
                 v_off = static_cast<uint32_t>(v("SMEM_V_OFF"));
  const uint32_t q_box = static_cast<uint32_t>(v("Q_BOX_ENC")), kv_box = static_cast<uint32_t>(v("KV_BOX_ENC")),
                 kv_stage = static_cast<uint32_t>(v("KV_STAGE_ENC")), pv_step = static_cast<uint32_t>(v("PV_KSTEP_ENC"));
  auto desc = [](uint32_t hi, uint32_t lo) { return (static_cast<uint64_t>(hi) << 32) | lo; };
  // ISSUE_S: lo = (addr >> 4 | SDESC_KMAJ_LO) + stage * KV_STAGE_ENC, then per K-step
  // (kk & 3) * 2 + (kk >> 2) * BOX_ENC; hi = SDESC_KMAJ_HI.
  p.q_desc = [=](uint32_t base, int, int kk) {
    return desc(kmaj_hi, (((base + q_off) >> 4) | kmaj_lo) + (kk & 3) * 2u + (kk >> 2) * q_box);
  };
  p.k_desc = [=](uint32_t base, int st, int, int kk) {
    return desc(kmaj_hi, (((base + k_off) >> 4) | kmaj_lo) + st * kv_stage + (kk & 3) * 2u + (kk >> 2) * kv_box);
  };
  // PV loop: lo = (addr >> 4 | SDESC_V_LO) + stage * KV_STAGE_ENC + kk * PV_KSTEP_ENC.
  p.v_desc = [=](uint32_t base, int st, int kk) { return desc(v_hi, (((base + v_off) >> 4) | v_lo) + st * kv_stage + kk * pv_step); };
  if (p.p_in_smem) {
    const uint32_t p_off = static_cast<uint32_t>(v("SMEM_P_OFF")), p_buf = static_cast<uint32_t>(v("P_BUF_ENC")),
                   p_box = static_cast<uint32_t>(v("P_BOX_ENC"));
    p.p_desc = [=](uint32_t base, int b, int kk) {
      return desc(kmaj_hi, (((base + p_off) >> 4) | kmaj_lo) + b * p_buf + (kk & 3) * 2u + (kk >> 2) * p_box);
    };
  }
  const uint32_t s0 = static_cast<uint32_t>(v("TMEM_COL_S0")), sbuf = static_cast<uint32_t>(v("S_BUF_COLS")),
                 o0 = static_cast<uint32_t>(v("TMEM_COL_O"));
  p.s_col = [=](int b, int) { return s0 + b * sbuf; };
  if (!p.p_in_smem) {
    const uint32_t pstep = static_cast<uint32_t>(v("P_KSTEP_COLS"));
    p.p_col = [=](int b, int kk) { return s0 + b * sbuf + kk * pstep; };  // P aliases the start of S_b
  }
  p.o_col = [=](int) { return o0; };
  p.idesc_qk = static_cast<uint32_t>(v("IDESC_QK"));
  p.idesc_pv = static_cast<uint32_t>(v("IDESC_PV"));
  return p;
}

// The two-tile family's macro contract (docs/sm100_fwd_design.md "Macros the PTX defines"):
// Q tile t at SMEM_Q_OFF + t * SMEM_Q_TILE_BYTES (descriptor + t * Q_TILE_ENC); ring slot r at
// SMEM_KV_OFF + r * KV_SLOT_BYTES (+ r * KV_SLOT_ENC) holding K or V; S = Q K^T in QK_HALVES
// instructions of N = KERNEL_QK_N, half h reading K rows [h N, h N + N) (+ h * QK_HALF_ENC) into
// S columns TMEM_COL_S0 + b * S_BUF_COLS + h * N; P of buffer b at TMEM_COL_P0 + b * P_BUF_COLS +
// kk * P_KSTEP_COLS; O_t at TMEM_COL_O0 + t * O_BUF_COLS.
inline Plan two_tile_plan(const std::string& name, const Macros& m) {
  auto v = [&](const char* k) { return mval(m, k, name); };
  Plan p;
  p.name = name;
  p.two_tile = true;
  p.d = static_cast<int>(v("KERNEL_HEAD_DIM"));
  p.bn = static_cast<int>(v("KERNEL_BLOCK_N"));
  p.qk_n = static_cast<int>(v("KERNEL_QK_N"));
  p.halves = p.bn / p.qk_n;
  p.q_tiles = static_cast<int>(v("KERNEL_Q_TILES"));
  p.p_aliases_s = v("P_ALIAS_S") != 0;
  p.alloc_cols = static_cast<int>(v("TMEM_ALLOC_COLS"));
  for (int r = 0; r < v("KERNEL_KV_SLOTS"); ++r) {
    p.k_tiles.push_back(static_cast<uint32_t>(v("SMEM_KV_OFF") + r * v("KV_SLOT_BYTES")));
    p.v_tiles.push_back(p.k_tiles.back());
  }
  for (int t = 0; t < p.q_tiles; ++t) p.q_tiles_off.push_back(static_cast<uint32_t>(v("SMEM_Q_OFF") + t * v("SMEM_Q_TILE_BYTES")));
  const uint32_t kmaj_lo = static_cast<uint32_t>(v("SDESC_KMAJ_LO")), kmaj_hi = static_cast<uint32_t>(v("SDESC_KMAJ_HI"));
  const uint32_t v_lo = static_cast<uint32_t>(v("SDESC_V_LO")), v_hi = static_cast<uint32_t>(v("SDESC_V_HI"));
  const uint32_t q_off = static_cast<uint32_t>(v("SMEM_Q_OFF")), kv_off = static_cast<uint32_t>(v("SMEM_KV_OFF"));
  const uint32_t q_box = static_cast<uint32_t>(v("Q_BOX_ENC")), q_tile = static_cast<uint32_t>(v("Q_TILE_ENC")),
                 kv_box = static_cast<uint32_t>(v("KV_BOX_ENC")), slot = static_cast<uint32_t>(v("KV_SLOT_ENC")),
                 half = static_cast<uint32_t>(v("QK_HALF_ENC")), pv_step = static_cast<uint32_t>(v("PV_KSTEP_ENC"));
  auto desc = [](uint32_t hi, uint32_t lo) { return (static_cast<uint64_t>(hi) << 32) | lo; };
  p.q_desc = [=](uint32_t base, int t, int kk) {
    return desc(kmaj_hi, (((base + q_off) >> 4) | kmaj_lo) + t * q_tile + (kk & 3) * 2u + (kk >> 2) * q_box);
  };
  p.k_desc = [=](uint32_t base, int r, int h, int kk) {
    return desc(kmaj_hi, (((base + kv_off) >> 4) | kmaj_lo) + r * slot + h * half + (kk & 3) * 2u + (kk >> 2) * kv_box);
  };
  p.v_desc = [=](uint32_t base, int r, int kk) { return desc(v_hi, (((base + kv_off) >> 4) | v_lo) + r * slot + kk * pv_step); };
  const uint32_t s0 = static_cast<uint32_t>(v("TMEM_COL_S0")), sbuf = static_cast<uint32_t>(v("S_BUF_COLS")),
                 p0 = static_cast<uint32_t>(v("TMEM_COL_P0")), pbuf = static_cast<uint32_t>(v("P_BUF_COLS")),
                 pstep = static_cast<uint32_t>(v("P_KSTEP_COLS")), o0 = static_cast<uint32_t>(v("TMEM_COL_O0")),
                 obuf = static_cast<uint32_t>(v("O_BUF_COLS"));
  const uint32_t qn = static_cast<uint32_t>(p.qk_n);
  p.s_col = [=](int b, int h) { return s0 + b * sbuf + h * qn; };
  p.p_col = [=](int b, int kk) { return p0 + b * pbuf + kk * pstep; };
  p.o_col = [=](int t) { return o0 + t * obuf; };
  p.idesc_qk = static_cast<uint32_t>(v("IDESC_QK"));
  p.idesc_pv = static_cast<uint32_t>(v("IDESC_PV"));
  return p;
}

// The design's numbers as the macros a phase-2 kernel will define (descriptor constants from the
// host encoder; the comparison then checks the design's maps and the host encoder against CUTLASS).
inline Macros design_macros(const sm100_design::FwdDesign& d) {
  Macros m;
  auto set = [&](const char* k, long long x) { m[k] = std::to_string(x); };
  set("KERNEL_HEAD_DIM", d.head_dim);
  set("KERNEL_BLOCK_N", d.block_n);
  set("KERNEL_QK_N", d.qk_n);
  set("KERNEL_Q_TILES", d.q_tiles);
  set("P_ALIAS_S", d.p_aliases_s ? 1 : 0);
  set("TMEM_ALLOC_COLS", d.tmem_alloc_cols);
  set("KERNEL_KV_SLOTS", d.kv_slots);
  set("SMEM_KV_OFF", d.smem_kv_off);
  set("KV_SLOT_BYTES", d.kv_slot_bytes);
  set("SMEM_Q_OFF", d.smem_q_off);
  set("SMEM_Q_TILE_BYTES", d.q_tile_bytes);
  const uint64_t kmaj = hs::kmajor_sw128_desc(0), vd = hs::mnmajor_sw128_desc(0, d.block_n);
  set("SDESC_KMAJ_LO", static_cast<long long>(kmaj & 0xFFFFFFFFu));
  set("SDESC_KMAJ_HI", static_cast<long long>(kmaj >> 32));
  set("SDESC_V_LO", static_cast<long long>(vd & 0xFFFFFFFFu));
  set("SDESC_V_HI", static_cast<long long>(vd >> 32));
  set("Q_BOX_ENC", (128 * 128) >> 4);
  set("Q_TILE_ENC", d.q_tile_bytes >> 4);
  set("KV_BOX_ENC", (d.block_n * 128) >> 4);
  set("KV_SLOT_ENC", d.kv_slot_bytes >> 4);
  set("QK_HALF_ENC", (d.qk_n * 128) >> 4);
  set("PV_KSTEP_ENC", (2 * 1024) >> 4);
  set("TMEM_COL_S0", d.tmem_s0);
  set("S_BUF_COLS", d.s_buf_cols);
  set("TMEM_COL_P0", d.tmem_p0);
  set("P_BUF_COLS", d.p_buf_cols);
  set("P_KSTEP_COLS", 8);
  set("TMEM_COL_O0", d.tmem_o0);
  set("O_BUF_COLS", d.o_buf_cols);
  set("IDESC_QK", hs::fwd_idesc_qk(d.qk_n));
  set("IDESC_PV", hs::fwd_idesc_pv(d.head_dim));
  return m;
}

// ---- the softmax's P placement, from the preprocessed PTX ---------------------------------------
// For every key n of a KV tile: the TMEM column (relative to the P store's base register) and the
// 16-bit half its packed bf16 P lands in. The S values are followed from their tcgen05.ld through
// the softmax's arithmetic by a register dataflow over the statements in program order: a scalar
// result carries the key of its first keyed source operand (the kernels keep the score as the
// first operand: fma s, scale, -m; ex2 s; selp s, s, -inf; max s, -127; ...), a .f32x2 result the
// key pair of its first keyed source, mov.b64 packs / unpacks pairs, cvt.rn.bf16x2.f32 d, hi, lo
// packs two keys. A tcgen05.st whose every register is such a packed pair is a P store. `col_of`
// maps (shape "32x32b", xN, load?, register r) to the TMEM column offset (CUTLASS traits).
struct PPlacement {
  bool found = false;
  std::string error;
  std::map<int, std::pair<int, int>> key_to_col_half;  // key (S column offset) -> (P column offset from the P base, half)
  std::set<int> s_cols;                                 // S column offsets the P-producing loads read
  // P base = S base + p_minus_s when the P stores' base register is the S loads' one or one add of
  // an immediate away (P aliasing S at hd128, the serial kernels); else the relation is the kernel's
  // TMEM map macros' (checked against CUTLASS there).
  bool base_related = false;
  int p_minus_s = 0;
  std::vector<std::size_t> store_stmts;                 // indices of the P stores
};

namespace pp_detail {
using sm100_ptx::operands;
using sm100_ptx::reg_list;
// An integer expression of the generated PTX ("16", "(64 + 16)"); false if it is none.
inline bool int_value(const std::string& e, int* v) {
  static const std::map<std::string, std::string> none;
  ptxfmha_test::IntExpr ev(none);
  long long x = 0;
  std::string err;
  if (e.empty() || e[0] == '%' || !ev.eval(e, &x, &err)) return false;
  *v = static_cast<int>(x);
  return true;
}
inline void addr(const std::string& a, std::string* base, int* off) {
  const std::string in = a.substr(1, a.size() - 2);  // [base+off]
  const std::size_t plus = in.find('+');
  *base = sm100_ptx::trim(in.substr(0, plus));
  *off = 0;
  if (plus != std::string::npos && !int_value(sm100_ptx::trim(in.substr(plus + 1)), off))
    throw std::runtime_error("TMEM address " + a + ": offset is no integer expression");
}
}  // namespace pp_detail

inline PPlacement p_placement(const std::vector<sm100_ptx::Stmt>& st, const std::function<int(int n, bool load, int r)>& col_of) {
  using namespace pp_detail;
  PPlacement out;
  struct Key { std::string base; int col = 0; };
  std::map<std::string, Key> key;                              // 32-bit register -> S element
  std::map<std::string, std::pair<Key, Key>> key2;             // b64 register -> (low, high) S elements
  std::map<std::string, std::pair<Key, Key>> packed;           // bf16x2 register -> (high key, low key)
  std::map<std::string, std::pair<std::string, int>> add_def;  // reg -> (reg, imm) of its add.u32 definitions
  std::map<std::string, int> defs;                             // definitions per register
  static const std::regex ld_re(R"(^tcgen05\.ld\.sync\.aligned\.32x32b\.x(\d+)\.b32$)");
  static const std::regex st_re(R"(^tcgen05\.st\.sync\.aligned\.32x32b\.x(\d+)\.b32$)");
  std::string p_base, s_base;
  for (std::size_t si = 0; si < st.size(); ++si) {
    std::string op;
    const std::vector<std::string> o = operands(sm100_ptx::body(st[si].text), &op);
    std::smatch m;
    if (std::regex_match(op, m, ld_re) && o.size() == 2) {
      std::string base;
      int off = 0;
      addr(o[1], &base, &off);
      const auto rs = reg_list(o[0]);
      const int n = std::stoi(m[1].str());
      if (static_cast<int>(rs.size()) != n) { out.error = "register count of " + st[si].text; return out; }
      for (int r = 0; r < n; ++r) {
        key[rs[r]] = {base, off + col_of(n, true, r)};
        packed.erase(rs[r]);
      }
      continue;
    }
    if (std::regex_match(op, m, st_re) && o.size() == 2) {
      std::string base;
      int off = 0;
      addr(o[0], &base, &off);
      const auto rs = reg_list(o[1]);
      const int n = std::stoi(m[1].str());
      bool is_p = static_cast<int>(rs.size()) == n;
      for (const std::string& r : rs) is_p = is_p && packed.count(r);
      if (!is_p) continue;  // e.g. the O correction store
      for (int r = 0; r < n; ++r) {
        const auto& src = packed[rs[r]];
        const Key hi = src.first, lo = src.second;
        if (s_base.empty()) s_base = lo.base;
        if (hi.base != s_base || lo.base != s_base) { out.error = "a P store packs S loaded through another base register"; return out; }
        if (p_base.empty()) p_base = base;
        if (base != p_base) { out.error = "P stores through two base registers (" + p_base + ", " + base + ")"; return out; }
        const int col = off + col_of(n, false, r);
        out.key_to_col_half[lo.col] = {col, 0};
        out.key_to_col_half[hi.col] = {col, 1};
        out.s_cols.insert(lo.col);
        out.s_cols.insert(hi.col);
      }
      out.store_stmts.push_back(si);
      out.found = true;
      continue;
    }
    if (o.empty()) continue;
    const std::string& d = o[0];
    // Instructions without a register result.
    if (op.rfind("st.", 0) == 0 || op.rfind("bra", 0) == 0 || op.rfind("setp", 0) == 0 || op.rfind("tcgen05", 0) == 0 ||
        op.rfind("mbarrier", 0) == 0 || op.rfind("bar", 0) == 0 || op.rfind("cp.", 0) == 0 || op.rfind("fence", 0) == 0 ||
        op.rfind("vote", 0) == 0)
      continue;
    if (op == "mov.b64" && d[0] == '{' && o.size() == 2) {  // unpack
      const auto rs = reg_list(d);
      for (const std::string& r : rs) { ++defs[r]; packed.erase(r); }
      if (rs.size() == 2 && key2.count(o[1])) {
        key[rs[0]] = key2[o[1]].first;
        key[rs[1]] = key2[o[1]].second;
      } else {
        for (const std::string& r : rs) key.erase(r);
      }
      continue;
    }
    if (d.empty() || d[0] != '%') continue;
    ++defs[d];
    packed.erase(d);
    if (op == "mov.b64" && o.size() == 2 && o[1][0] == '{') {  // pack
      const auto rs = reg_list(o[1]);
      if (rs.size() == 2 && key.count(rs[0]) && key.count(rs[1])) key2[d] = {key[rs[0]], key[rs[1]]};
      else key2.erase(d);
      continue;
    }
    // (the sources are read before the result is written: d may be one of them)
    if (op == "cvt.rn.bf16x2.f32" && o.size() == 3) {
      const bool both = key.count(o[1]) && key.count(o[2]);
      if (both) packed[d] = {key[o[1]], key[o[2]]};
      key.erase(d);
      continue;
    }
    if (op.find(".f32x2") != std::string::npos) {
      std::pair<Key, Key> v;
      bool have = false;
      for (std::size_t k = 1; k < o.size() && !have; ++k)
        if (key2.count(o[k])) { v = key2[o[k]]; have = true; }
      key2.erase(d);
      if (have) key2[d] = v;
      continue;
    }
    int imm = 0;
    if (op == "add.u32" && o.size() == 3 && int_value(o[2], &imm)) add_def[d] = {o[1], imm};
    Key v;
    bool have = false;
    for (std::size_t k = 1; k < o.size() && !have; ++k)
      if (key.count(o[k])) { v = key[o[k]]; have = true; }
    key.erase(d);
    key2.erase(d);
    if (have) key[d] = v;
  }
  if (out.found) {
    if (p_base == s_base) {
      out.base_related = true;
      out.p_minus_s = 0;
    } else if (defs[p_base] == 1 && add_def.count(p_base) && add_def[p_base].first == s_base) {
      out.base_related = true;
      out.p_minus_s = add_def[p_base].second;
    }
  }
  return out;
}

}  // namespace sm100a_xcheck

#endif
