// "sm90 decode cutlass cross-check": the shared-memory side of every decode warpgroup row (_wg,
// _e4m3_wg and their _cl twins, sm90a), read from its preprocessed PTX and compared with CUTLASS:
//   - the wgmma descriptors: K (B of S = Q K^T, K-major), the Q tile (A, K-major, where Q is read
//     from shared memory), V (B of O += P V, MN-major, N = D), base fields and every k-step's
//     offset, against cute::GMMA's descriptors (make_fragment_A / _B of partition_A / _B of the
//     tiles laid out with GMMA::Layout_K_SW128_Atom / Layout_MN_SW128_Atom, the layouts TMA's
//     128-byte swizzle writes: checked too, element by element);
//   - the rows whose QK is an e4m3 wgmma (the _e4m3_wg rows: m64n64k32 on the stage's e4m3 K with
//     Q as two e4m3 tiles, hi and lo): the K and Q descriptors of every k-step of both QK sites
//     (lo's D/32 k-steps, then hi's) against cute's SM90_64x64x32_F32E4M3E4M3_SS_TN on
//     GMMA::Layout_K_SW64_Atom<float_e4m3_t> (d64) / Layout_K_SW128_Atom<float_e4m3_t> (d128, and
//     d256 tiled over its two 128-byte column blocks), whose byte layout is checked equal to TMA's
//     swizzle of the e4m3 K tile;
//   - what the consumers write for those descriptors to read: the Q tile (Q_TILE_STORE: every
//     thread's Q fragments, followed through the PTX's address arithmetic for each (m-tile, g,
//     q4)), Q's e4m3 tiles (Q_E4M3_TILES_STORE: each stored byte followed back through the split
//     to its Q element, its row's scale register and hi or lo) and the e4m3 rows' f16 copies
//     (the conversion map: every thread's loads of the e4m3 stage and stores to the copy,
//     followed through LANE_OFFSETS and every conversion in the main loop: V's, the QK reading
//     the e4m3 K), element by element against the CuTe layout of the copy and TMA's layout of
//     the e4m3 stage.
// (The plain rows' cp.async producer has its cross-check in test_cpu_sm90_decode_cpasync.cpp.)
// The PTX (statements as tests/sm100_model/ptx_roles.h parses them: one space between fields) is
// interpreted straight-line (tests/sm90_decode_interp.h: no branches taken; the base registers of
// the stage and the copies held at 0, so addresses are offsets from them), with only the integer
// operations the address arithmetic uses and, for data, where each byte came from (a
// shared-memory load, or a Q element through the split's bit and float operations); a register
// written by anything else becomes unknown, and an unknown address fails the check.
//
// CUTLASS: PyPI nvidia-cutlass 4.2.0.0 (tools/deps.d/40-cutlass.sh -> .deps/cutlass), as for the
// sm100a cross-check (tests/tests.mk gives this object the same flags). Without the package the
// test cases report themselves skipped, never passed.
#include <cstddef>
#include <cstdint>

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "decode_rows.h"

#if PTXFMHA_HAVE_CUTLASS
#include "sm90_decode_xcheck.h"  // CuTe (after cute_host_shim.h), the interpreter, the helpers
#include <cutlass/version.h>

namespace {

using namespace cute;
using namespace sm90_decode_xcheck;  // Stmt, Interp (sm90_decode_interp.h), the helpers (sm90_decode_xcheck.h)

// ---- the kernel's descriptors, from its PTX ---------------------------------------------------
struct Desc {
  bool found = false;
  long long fields = 0;          // what MAKE_DESC_CTA ors into (addr & 0x3FFFF) >> 4
  bool same_fields = true;       // every MAKE_DESC_CTA of it (one per site) ors the same fields
  std::vector<long long> steps;  // the k-steps' offsets (added to the descriptor), in order
};

// The descriptor `base` (%dk64, %dv64, %dq64): its fields (the first or.b64 into it) and the
// offsets of the first `n` k-steps made from it (add.s64 %dd / %dq, base, offset; n < 0: all).
Desc kernel_desc(const std::vector<Stmt>& st, const std::string& base, int n) {
  Desc d;
  for (const Stmt& s : st) {
    std::string op;
    const std::vector<std::string> o = sm100_ptx::operands(sm100_ptx::body(s.text), &op);
    if (op == "or.b64" && o.size() == 3 && o[0] == base && o[1] == base) {
      const long long f = eval_or_throw(o[2]);
      d.same_fields = d.same_fields && (!d.found || f == d.fields);
      if (!d.found) d.fields = f;
      d.found = true;
    }
    if (op == "add.s64" && o.size() == 3 && o[1] == base && (n < 0 || static_cast<int>(d.steps.size()) < n))
      d.steps.push_back(eval_or_throw(o[2]));
  }
  return d;
}

uint64_t desc_bits(const GMMA::DescriptorIterator& it) { return it.desc_.desc_; }
uint64_t desc_bits(const GmmaDescriptor& d) { return d.desc_; }

using cutlass_xcheck::Tally;

using cutlass_xcheck::Arena;

// TMA's swizzle of an e4m3 tile as the kernels' boxes write it (layout.ptxh): 64 rows x D bytes in
// column blocks of 64 rows x cb bytes (cb = 64 at head dim 64: the 64-byte swizzle, 16-byte chunk
// c of row r at r 64 + ((c ^ ((r / 2) % 4)) 16); else 128, the 128-byte swizzle, c ^ (r % 8)),
// element (row, col) of the e4m3 K or V tile and of the e4m3 Q tiles.
long long e4m3_offset(int row, int col, int D) {
  const int cb_cols = D == 64 ? 64 : 128, cb = col / cb_cols, c = col % cb_cols;
  const int swz = cb_cols == 128 ? row % 8 : (row / 2) % 4;
  return static_cast<long long>(cb) * 64 * cb_cols + row * cb_cols + (((c / 16) ^ swz) * 16) + c % 16;
}

// What CUTLASS computes for a row of head dim D and 16-bit operand type T, and what the kernel
// writes for it: the layouts, and the descriptor checks of K and the Q tile (qk16: the 16-bit QK
// wgmmas; the e4m3 QK's: compare_qk_e4m3) and V.
template <int D, class T, class QkOp, class PvOp>
void compare_row(const std::string& name, const std::vector<Stmt>& st, bool qk16, Tally& t) {
  const uint32_t window = 0x400, base = 0x1000;  // any 1024-aligned tile address
  Arena arena(window);
  auto kl = tile_to_shape(GMMA::Layout_K_SW128_Atom<T>{}, make_shape(Int<64>{}, Int<D>{}));
  auto vl = tile_to_shape(GMMA::Layout_MN_SW128_Atom<T>{}, make_shape(Int<D>{}, Int<64>{}), Step<_2, _1>{});
  // The layouts are TMA's (and the copies' / the Q tile's, which the kernel writes in it).
  bool k_ok = true, v_ok = true;
  for (int row = 0; row < 64; ++row)
    for (int col = 0; col < D; ++col) {
      k_ok = k_ok && layout_bytes<T>(kl, row, col) == sw128_offset(row, col);
      v_ok = v_ok && layout_bytes<T>(vl, col, row) == sw128_offset(row, col);
    }
  t.truth(name + ": K-major SW128 layout (64 x D) = TMA's 128-byte swizzle", k_ok);
  t.truth(name + ": MN-major SW128 layout (D x 64, K mode first) = TMA's 128-byte swizzle", v_ok);
  if (qk16) {
    auto mma_qk = make_tiled_mma(QkOp{});
    auto thr_qk = mma_qk.get_slice(0);
    auto sK = make_tensor(make_smem_ptr(arena.at<T>(base)), kl);
    auto fB = thr_qk.make_fragment_B(thr_qk.partition_B(sK));
    const Desc dk = kernel_desc(st, "%dk64", D / 16);
    t.truth(name + ": K descriptor and D/16 k-steps found", dk.found && static_cast<int>(dk.steps.size()) == D / 16);
    for (int kk = 0; kk < size<2>(fB) && kk < static_cast<int>(dk.steps.size()); ++kk)
      t.cmp(name + ": K k-step " + std::to_string(kk), desc_bits(fB(0, 0, kk)),
            (((base & 0x3FFFF) >> 4) | dk.fields) + dk.steps[kk]);
    const Desc dq = kernel_desc(st, "%dq64", D / 16);  // the Q tile's, where Q is read from shared memory
    if (dq.found) {
      auto sQ = make_tensor(make_smem_ptr(arena.at<T>(base)), kl);
      auto fA = thr_qk.make_fragment_A(thr_qk.partition_A(sQ));
      t.truth(name + ": D/16 Q k-steps", static_cast<int>(dq.steps.size()) == D / 16);
      for (int kk = 0; kk < size<2>(fA) && kk < static_cast<int>(dq.steps.size()); ++kk)
        t.cmp(name + ": Q tile k-step " + std::to_string(kk), desc_bits(fA(0, 0, kk)),
              (((base & 0x3FFFF) >> 4) | dq.fields) + dq.steps[kk]);
    }
  }
  auto mma_pv = make_tiled_mma(PvOp{});
  auto thr_pv = mma_pv.get_slice(0);
  auto sV = make_tensor(make_smem_ptr(arena.at<T>(base)), vl);
  auto fV = thr_pv.make_fragment_B(thr_pv.partition_B(sV));
  const Desc dv = kernel_desc(st, "%dv64", 4);
  t.truth(name + ": V descriptor and 4 k-steps found", dv.found && dv.steps.size() == 4);
  // With D = 64 the MMA's N (64 x 2 bytes) is one swizzle atom: the leading byte offset (the next
  // 64-column block) is never read; CUTLASS writes 1 there, the kernels 64 x 128 >> 4.
  const long long mask = D == 64 ? ~(0x3FFFll << 16) : ~0ll;
  for (int kk = 0; kk < size<2>(fV) && kk < static_cast<int>(dv.steps.size()); ++kk)
    t.cmp(name + ": V k-step " + std::to_string(kk), static_cast<long long>(desc_bits(fV(0, 0, kk))) & mask,
          ((((base & 0x3FFFF) >> 4) | dv.fields) + dv.steps[kk]) & mask);
}

// WG 4's P V (wg_steps.ptxh, WG_PV_STEP_H): two m64n128k16 chains over O's column halves, the
// second's V two 64-column blocks further: each half's 4 k-steps against CUTLASS's B fragments
// of the V tile's N half h (local_tile of the MN-major layout): 8 descriptors.
template <int D, class T, class PvOp>
void compare_pv_halves(const std::string& name, const std::vector<Stmt>& st, Tally& t) {
  const uint32_t window = 0x400, base = 0x1000;
  Arena arena(window);
  auto vl = tile_to_shape(GMMA::Layout_MN_SW128_Atom<T>{}, make_shape(Int<D>{}, Int<64>{}), Step<_2, _1>{});
  auto sV = make_tensor(make_smem_ptr(arena.at<T>(base)), vl);
  auto mma_pv = make_tiled_mma(PvOp{});
  auto thr_pv = mma_pv.get_slice(0);
  const Desc dv = kernel_desc(st, "%dv64", -1);
  t.truth(name + ": V descriptor and 2 x 4 k-steps found (O's halves)", dv.found && dv.steps.size() == 8);
  for (int h = 0; h < 2; ++h) {
    auto sVh = local_tile(sV, make_shape(Int<D / 2>{}, Int<64>{}), make_coord(h, 0));
    auto fV = thr_pv.make_fragment_B(thr_pv.partition_B(sVh));
    for (int kk = 0; kk < size<2>(fV) && 4 * h + kk < static_cast<int>(dv.steps.size()); ++kk)
      t.cmp(name + ": V half " + std::to_string(h) + " k-step " + std::to_string(kk),
            static_cast<long long>(desc_bits(fV(0, 0, kk))),
            (((base & 0x3FFFF) >> 4) | dv.fields) + dv.steps[4 * h + kk]);
  }
}

// The e4m3 QK (the _e4m3_wg rows, WG_QK_E4M3_ISSUE of wg_steps.ptxh): S = (Q lo + Q hi) K^T as 2
// x D/32 wgmma m64n64k32 e4m3, A = Q's tile (%dq64: hi at the Q tile's address, lo
// Q_E4M3_TILE_BYTES = 64 x D after it), B = the stage's e4m3 K tile (%dk64), both K-major in
// TMA's swizzle of its column blocks' rows (KAtom: GMMA::Layout_K_SW64_Atom<float_e4m3_t> at d64,
// Layout_K_SW128_Atom at d128 and d256, tile_to_shape stacking the atom down the 64 rows first,
// then across d256's two 128-byte column blocks; the layout checked equal to TMA's, e4m3_offset). Every k-step of
// every QK site (the pipelined loop's first round and loop: 2 x 2 x D/32 of each descriptor)
// against cute's SM90_64x64x32_F32E4M3E4M3_SS_TN descriptors of the same k-step, in the kernel's
// order (qk_e4m3_order): per S accumulator lo's k-steps, then hi's; one accumulator (%sw) at d64
// / d128, at d256 one per 128-byte column block (%sw: k-steps 0-3, %sx: 4-7), so that none sums
// more than d128's 2 x 4.
struct QkStep {
  bool lo;
  int kk;
  std::string acc;  // the accumulator's register prefix: %sw or %sx
};
std::vector<QkStep> qk_e4m3_order(int D) {
  std::vector<QkStep> v;
  const int n = D / 32, per_acc = std::min(n, 4);
  for (int a = 0; a < n / per_acc; ++a)
    for (bool lo : {true, false})
      for (int k = a * per_acc; k < (a + 1) * per_acc; ++k) v.push_back({lo, k, a == 0 ? "%sw" : "%sx"});
  return v;
}
// The accumulator (its first register's prefix, "%sw" / "%sx") of every e4m3 wgmma, in order.
std::vector<std::string> qk_e4m3_accs(const std::vector<Stmt>& st) {
  std::vector<std::string> v;
  for (const Stmt& s : st) {
    if (s.text.rfind("wgmma.mma_async", 0) != 0 || s.text.find(".e4m3.e4m3 ") == std::string::npos) continue;
    const std::size_t at = s.text.find('{');
    std::size_t end = at == std::string::npos ? at : at + 1;
    while (end != std::string::npos && end < s.text.size() && !std::isdigit(static_cast<unsigned char>(s.text[end])))
      ++end;
    v.push_back(at == std::string::npos ? "?" : s.text.substr(at + 1, end - at - 1));
  }
  return v;
}

// sites: the QK's places in the loop (2 in WG 2 / 3's pipelined loop, 1 in WG 4's).
template <int D, class KAtom>
void compare_qk_e4m3(const std::string& name, const std::vector<Stmt>& st, int sites, Tally& t) {
  using T = float_e4m3_t;
  const uint32_t window = 0x400, base = 0x1000, lo = base + 64 * D;  // hi's and lo's addresses
  Arena arena(window);
  auto kl = tile_to_shape(KAtom{}, make_shape(Int<64>{}, Int<D>{}));
  bool ok = true;
  for (int row = 0; row < 64; ++row)
    for (int col = 0; col < D; ++col) ok = ok && layout_bytes<T>(kl, row, col) == e4m3_offset(row, col, D);
  t.truth(name + ": e4m3 K-major layout (64 x D, SW" + std::to_string(D == 64 ? 64 : 128) +
              ") = TMA's swizzle of the e4m3 K tile",
          ok);
  auto mma = make_tiled_mma(SM90_64x64x32_F32E4M3E4M3_SS_TN<>{});
  auto thr = mma.get_slice(0);
  auto fB = thr.make_fragment_B(thr.partition_B(make_tensor(make_smem_ptr(arena.at<T>(base)), kl)));
  auto fA_hi = thr.make_fragment_A(thr.partition_A(make_tensor(make_smem_ptr(arena.at<T>(base)), kl)));
  auto fA_lo = thr.make_fragment_A(thr.partition_A(make_tensor(make_smem_ptr(arena.at<T>(lo)), kl)));
  const int n = D / 32;
  t.truth(name + ": cute's e4m3 QK has D/32 k-steps", size<2>(fB) == n && size<2>(fA_hi) == n);
  const Desc dk = kernel_desc(st, "%dk64", -1), dq = kernel_desc(st, "%dq64", -1);
  t.truth(name + ": K and Q descriptors and " + std::to_string(sites) + " site(s) x 2 x D/32 k-steps each found",
          dk.found && dq.found && static_cast<int>(dk.steps.size()) == sites * 2 * n &&
              static_cast<int>(dq.steps.size()) == sites * 2 * n);
  t.truth(name + ": every site's K and Q descriptors the same fields", dk.same_fields && dq.same_fields);
  const std::vector<QkStep> order = qk_e4m3_order(D);
  const std::vector<std::string> accs = qk_e4m3_accs(st);
  t.truth(name + ": one e4m3 wgmma per k-step found", accs.size() == dk.steps.size());
  for (std::size_t i = 0; i < dk.steps.size() && i < dq.steps.size(); ++i) {
    const QkStep& want = order[i % order.size()];
    const int kk = want.kk;
    const bool is_lo = want.lo;
    const std::string at = " (site " + std::to_string(i / (2 * n)) + ", " + (is_lo ? "lo" : "hi") + " k-step " +
                           std::to_string(kk) + ")";
    if (i < accs.size())
      t.truth(name + ": e4m3 k-step" + at + " sums into " + want.acc + " (found " + accs[i] + ")", accs[i] == want.acc);
    t.cmp(name + ": e4m3 K k-step" + at, desc_bits(fB(0, 0, kk)), (((base & 0x3FFFF) >> 4) | dk.fields) + dk.steps[i]);
    t.cmp(name + ": Q e4m3 tile k-step" + at, desc_bits(is_lo ? fA_lo(0, 0, kk) : fA_hi(0, 0, kk)),
          (((base & 0x3FFFF) >> 4) | dq.fields) + dq.steps[i]);
  }
}

// The Q tile's offset in shared memory: the address its descriptor is made from (add.u32 %t0,
// %smem, Q_TILE_OFF; cvt.u64.u32 %dq64, %t0: MAKE_DESC_CTA), and that statement's index; -1 (and
// st.size()) where there is none.
long long q_tile_offset(const std::vector<Stmt>& st, std::size_t* at = nullptr) {
  for (std::size_t i = 1; i < st.size(); ++i)
    if (st[i].text.rfind("cvt.u64.u32", 0) == 0 && st[i].text.find("%dq64") != std::string::npos &&
        st[i - 1].text.find("%smem") != std::string::npos) {
      std::string op;
      if (at != nullptr) *at = i;
      return eval_or_throw(sm100_ptx::operands(st[i - 1].text, &op)[2]);
    }
  if (at != nullptr) *at = st.size();
  return -1;
}

// Q's fragments (the mma.sync A fragment, PTX ISA, mma.m16n8k16): register %qa<ks>_<j> of lane (g,
// q4) in m-tile mt holds row 16 mt + g (+ 8 for j = 1, 3), columns 16 ks + 2 q4 (+ 8 for j = 2, 3)
// and + 1.
void q_frag_element(int mt, int g, int q4, int ks, int j, int* row, int* col) {
  *row = 16 * mt + g + ((j & 1) ? 8 : 0);
  *col = 16 * ks + 2 * q4 + ((j & 2) ? 8 : 0);
}

// Statements [from, to) run once for each (m-tile, g, q4) of the 64 rows (%mt, %g, %q4 set, %smem
// 0; with q_data, Q's D / 16 x 4 fragment registers as data: bytes 0-1 element (row, col) as
// kQElem + row * 1024 + col, bytes 2-3 (row, col + 1)); then visit(in, mt, g, q4).
template <class Visit>
void run_q_lanes(const std::vector<Stmt>& st, std::size_t from, std::size_t to, int D, bool q_data, Visit visit) {
  for (int mt = 0; mt < 4; ++mt)
    for (int g = 0; g < 8; ++g)
      for (int q4 = 0; q4 < 4; ++q4) {
        Interp in;
        in.set("%mt", mt);
        in.set("%g", g);
        in.set("%q4", q4);
        in.set("%smem", 0);
        for (int ks = 0; q_data && ks < D / 16; ++ks)
          for (int j = 0; j < 4; ++j) {
            int row = 0, col = 0;
            q_frag_element(mt, g, q4, ks, j, &row, &col);
            const long long e0 = kQElem + row * 1024LL + col, e1 = e0 + 1;
            in.set_data("%qa" + std::to_string(ks) + "_" + std::to_string(j), {e0, e0, e1, e1});
          }
        in.run(st, from, to);
        visit(in, mt, g, q4);
      }
}

// Whether `seen` (byte offset -> writes) holds n offsets, each written once.
bool each_once(const std::map<long long, int>& seen, long long n) {
  bool once = static_cast<long long>(seen.size()) == n;
  for (const auto& kv : seen) once = once && kv.second == 1;
  return once;
}

// The Q tile: Q_TILE_STORE followed for every (m-tile, g, q4), its stores' registers named by the
// fragment map (q_frag_element). Every element of the 64 x D tile written once, at its place in
// the layout the Q descriptor reads (sw128_offset = CuTe's, compare_row).
void check_q_tile(const std::string& name, const std::vector<Stmt>& st, int D, Tally& t) {
  std::size_t first_store = st.size();
  for (std::size_t i = 0; i < st.size(); ++i)
    if (st[i].text.rfind("st.shared.b32", 0) == 0 && st[i].text.find("%qa") != std::string::npos) {
      first_store = i;
      break;
    }
  std::size_t from = first_store;
  while (from > 0 && st[from].text.find("shl.b32") == std::string::npos) --from;
  while (from > 0 && !(st[from].text.rfind("shl.b32", 0) == 0 && st[from].text.find("%mt") != std::string::npos)) --from;
  std::size_t to = first_store;  // one past the last store of Q_TILE_STORE (its stores and their
  while (to < st.size() &&        // address arithmetic are consecutive)
         (st[to].text.find("%qa") != std::string::npos || st[to].text.rfind("xor.b32", 0) == 0 ||
          st[to].text.rfind("add.u32 %t2", 0) == 0))
    ++to;
  t.truth(name + ": Q_TILE_STORE found", first_store < st.size());
  const long long q_off = q_tile_offset(st);
  t.truth(name + ": the Q descriptor's address found", q_off >= 0);
  std::map<long long, int> seen;  // byte offset in the tile -> writes
  bool placed = true;
  std::string first_bad;
  run_q_lanes(st, from, to, D, false, [&](const Interp& in, int mt, int g, int q4) {
    t.truth(name + ": Q tile addresses known", !in.bad_addr);
    for (const Store& s : in.stores) {
      const std::string& reg = s.regs[0];
      int ks = 0, j = 0, row = 0, col = 0;
      if (std::sscanf(reg.c_str(), "%%qa%d_%d", &ks, &j) != 2) continue;
      q_frag_element(mt, g, q4, ks, j, &row, &col);
      for (int e = 0; e < 2; ++e) {
        const long long at = s.addr + 2 * e - q_off;
        ++seen[at];
        ++t.elements;
        if (at != sw128_offset(row, col + e) && placed) {
          placed = false;
          first_bad = reg + " (row " + std::to_string(row) + ", col " + std::to_string(col + e) + ") at " +
                      std::to_string(at) + ", want " + std::to_string(sw128_offset(row, col + e));
        }
      }
    }
  });
  t.truth(name + ": every Q element at its place in the tile: " + first_bad, placed);
  t.truth(name + ": every element of the 64 x D Q tile written once (" + std::to_string(seen.size()) + " written)",
          each_once(seen, 64LL * D));
}

// Q's two e4m3 tiles (the _e4m3_wg rows): the statements up to the Q descriptor's
// (Q_E4M3_TILES_STORE comes before it) run for every (m-tile, g, q4) with Q's fragment registers
// as data (run_q_lanes): each byte Q_SPLIT_ONE stores is followed back to its element, hi (e4m3
// of Q s) or lo (e4m3 of Q s - hi, of the same element), and the scale register that made Q s,
// which must be its row's (%qscale0 rows g, %qscale1 rows g + 8: Q_SCALE). Every element of the
// 64 x D tiles written once, hi in the first tile and lo Q_E4M3_TILE_BYTES = 64 x D after it, at
// its place in TMA's e4m3 layout (e4m3_offset = CuTe's, compare_qk_e4m3).
void check_q_tiles_e4m3(const std::string& name, const std::vector<Stmt>& st, int D, Tally& t) {
  std::size_t desc_at = st.size();
  const long long q_off = q_tile_offset(st, &desc_at);
  t.truth(name + ": the Q descriptor's address found", q_off >= 0);
  const long long tile = 64LL * D;
  std::map<long long, int> seen;  // byte offset from the hi tile -> writes
  bool placed = true;
  std::string first_bad;
  run_q_lanes(st, 0, desc_at, D, true, [&](const Interp& in, int, int, int) {
    for (const Store& s : in.stores) {
      if (s.regs.size() != 1 || s.data.size() != 1 || s.data[0].size() != 2) continue;
      const std::vector<long long>& b = s.data[0];
      if (b[0] < kQElem || b[1] < kQElem) continue;  // not Q's data
      for (int k = 0; k < 2; ++k) {
        const long long id = b[k], e = id & (kQElem - 1);
        const int row = static_cast<int>(e / 1024), col = static_cast<int>(e % 1024);
        const bool is_lo = (id & kQLo) != 0;
        const long long scale = id & (kQScale0 | kQScale1), want_scale = (row % 16) < 8 ? kQScale0 : kQScale1;
        const long long at = s.addr + k - q_off;
        const long long want = (is_lo ? tile : 0) + e4m3_offset(row, col, D);
        ++seen[at];
        ++t.elements;
        if ((at != want || scale != want_scale) && placed) {
          placed = false;
          first_bad = std::string(is_lo ? "lo" : "hi") + " of Q (row " + std::to_string(row) + ", col " +
                      std::to_string(col) + ") at " + std::to_string(at) + ", want " + std::to_string(want) +
                      (scale != want_scale ? ", scaled by the other row's scale" : "");
        }
      }
    }
  });
  t.truth(name + ": every Q element's hi and lo at their places in Q's e4m3 tiles, by their row's scale: " + first_bad,
          placed);
  t.truth(name + ": every byte of Q's two 64 x D e4m3 tiles written once (" + std::to_string(seen.size()) +
              " written)",
          each_once(seen, 2 * tile));
}

// The e4m3 rows' conversion: every thread's stores to the f16 copy, the source bytes of each f16
// from the thread's loads of the e4m3 stage. An e4m3 stage holds K then V (KV_TILE_BYTES each),
// column blocks of cb_cols columns x 64 rows (cb_cols bytes a row), TMA's swizzle of that row
// width (e4m3_offset); the copy V alone (64 x D x 2 in the 16-bit layout above: the copy the loop
// converts into, %cv_cur, at 0 like the stage; the QK reads the e4m3 K). The converting threads:
// the 128 consumers (WG 2), or the 64 converter threads from thread 160 (WG 3, roles.ptxh: each
// runs two of the consumers' places in the map).
void check_conversion(const std::string& name, const std::vector<Stmt>& st, int D, int thr0, int threads,
                      Tally& t) {
  const long long tile_bytes = 64LL * D, copy_tile_bytes = 64LL * D * 2;
  std::map<long long, std::pair<int, int>> src_elem;  // byte offset in an e4m3 tile -> (row, col)
  std::map<long long, std::pair<int, int>> dst_elem;  // byte offset in a copy tile -> (row, col)
  for (int row = 0; row < 64; ++row)
    for (int col = 0; col < D; ++col) {
      src_elem[e4m3_offset(row, col, D)] = {row, col};
      dst_elem[sw128_offset(row, col)] = {row, col};
    }
  std::set<long long> covered;             // tile * copy_tile_bytes + offset
  bool ok = true, any = false;
  std::string first_bad;
  for (int thr = thr0; thr < thr0 + threads; ++thr) {
    Interp in;
    in.set("%thr", thr);
    for (const char* b : {"%smem", "%stage_base", "%cv_cur", "%cv_prv", "%zero"}) in.set(b, 0);
    in.run(st, 0, st.size());
    for (const Store& s : in.stores) {
      if (s.regs.size() != 4 || s.regs[0] != "%cw0") continue;  // the copy's 16-byte stores of data
      for (int i = 0; i < 4; ++i)
        for (int h = 0; h < 2; ++h) {
          const std::vector<long long>& b = s.data[i];
          if (b.size() != 2) {
            ok = false;
            if (first_bad.empty()) first_bad = "a store of data not followed to a load";
            continue;
          }
          any = true;
          ++t.elements;
          const long long dst = s.addr + 4 * i + 2 * h;
          const int dtile = static_cast<int>(dst / copy_tile_bytes);
          const auto de = dst_elem.find(dst % copy_tile_bytes);
          const int stile = static_cast<int>(b[h] / tile_bytes);  // 0: K, 1: V
          const auto se = src_elem.find(b[h] % tile_bytes);
          const bool match = dtile == 0 && de != dst_elem.end() && se != src_elem.end() && stile == 1 &&
                             de->second == se->second;
          if (!match && ok) {
            const std::pair<int, int> rc = se == src_elem.end() ? std::make_pair(-1, -1) : se->second;
            first_bad = "thread " + std::to_string(thr) + ": e4m3 byte " + std::to_string(b[h]) + " (tile " +
                        std::to_string(stile) + ", row " + std::to_string(rc.first) + ", col " +
                        std::to_string(rc.second) + ") stored at copy byte " + std::to_string(dst);
          }
          ok = ok && match;
          covered.insert(dtile * copy_tile_bytes + dst % copy_tile_bytes);
        }
    }
  }
  t.truth(name + ": conversions found", any);
  t.truth(name + ": every f16 of the copy from its own e4m3 element of V: " + first_bad, ok);
  t.truth(name + ": the V copy covered (" + std::to_string(covered.size()) + " of " + std::to_string(64 * D) +
              " elements)",
          static_cast<int>(covered.size()) == 64 * D);
}

// Whether the row's QK wgmmas read Q from a Q tile (its PTX makes the Q tile's descriptor; which
// rows do is checked on the SASS by test_cpu_sass_wg_q.cpp and test_cpu_decode_abi.cpp).
bool has_q_tile(const std::vector<Stmt>& st) { return kernel_desc(st, "%dq64", 0).found; }
// Whether the row's QK is an e4m3 wgmma (the _e4m3_wg rows; from its PTX as well, the
// SASS tests hold which rows do).
bool has_e4m3_qk(const std::vector<Stmt>& st) {
  for (const Stmt& s : st)
    if (s.text.rfind("wgmma.mma_async", 0) == 0 && s.text.find(".e4m3.e4m3 ") != std::string::npos) return true;
  return false;
}

// Every check of one row on the statements `st` (the row's, or a mutation of them).
void check_row(const ptxfmha::KernelInfo* r, const std::vector<Stmt>& st, Tally& t) {
  const ptxfmha::DecodeRowFacts* f = ptxfmha::decode_row_facts(r);
  const int D = r->head_dim;
  const bool e4m3 = f->kv_bytes == 1, q_tile = has_q_tile(st), qk_e4m3 = has_e4m3_qk(st), qk16 = !qk_e4m3;
  const std::string n = r->name;
  using K = GMMA::Major;
  if (!e4m3 && D == 64) compare_row<64, bfloat16_t, SM90_64x64x16_F32BF16BF16_SS<K::K, K::K>, SM90_64x64x16_F32BF16BF16_SS<K::K, K::MN>>(n, st, qk16, t);
  if (!e4m3 && D == 128) compare_row<128, bfloat16_t, SM90_64x64x16_F32BF16BF16_SS<K::K, K::K>, SM90_64x128x16_F32BF16BF16_SS<K::K, K::MN>>(n, st, qk16, t);
  if (!e4m3 && D == 256) compare_row<256, bfloat16_t, SM90_64x64x16_F32BF16BF16_SS<K::K, K::K>, SM90_64x256x16_F32BF16BF16_SS<K::K, K::MN>>(n, st, qk16, t);
  if (e4m3 && D == 64) compare_row<64, half_t, SM90_64x64x16_F32F16F16_SS<K::K, K::K>, SM90_64x64x16_F32F16F16_SS<K::K, K::MN>>(n, st, qk16, t);
  if (e4m3 && D == 128) compare_row<128, half_t, SM90_64x64x16_F32F16F16_SS<K::K, K::K>, SM90_64x128x16_F32F16F16_SS<K::K, K::MN>>(n, st, qk16, t);
  if (e4m3 && D == 256 && f->wg != 4) compare_row<256, half_t, SM90_64x64x16_F32F16F16_SS<K::K, K::K>, SM90_64x256x16_F32F16F16_SS<K::K, K::MN>>(n, st, qk16, t);
  if (e4m3 && D == 256 && f->wg == 4) compare_pv_halves<256, half_t, SM90_64x128x16_F32F16F16_SS<K::K, K::MN>>(n, st, t);
  const int qk_sites = f->wg == 4 ? 1 : 2;
  if (qk_e4m3 && D == 64) compare_qk_e4m3<64, GMMA::Layout_K_SW64_Atom<float_e4m3_t>>(n, st, qk_sites, t);
  if (qk_e4m3 && D == 128) compare_qk_e4m3<128, GMMA::Layout_K_SW128_Atom<float_e4m3_t>>(n, st, qk_sites, t);
  if (qk_e4m3 && D == 256) compare_qk_e4m3<256, GMMA::Layout_K_SW128_Atom<float_e4m3_t>>(n, st, qk_sites, t);
  t.truth(n + ": an e4m3 QK in the e4m3 rows of the pipelined loop (WG 2) and only there",
          qk_e4m3 == (e4m3 && f->wg >= 2));
  if (q_tile && qk16) check_q_tile(n, st, D, t);
  if (qk_e4m3) check_q_tiles_e4m3(n, st, D, t);
  // the converting threads: the consumers (WG 2), WG 3's 64 converter threads from 160, WG 4's 128
  // from 384 (roles.ptxh)
  const int cv0 = f->wg == 3 ? 160 : f->wg == 4 ? 384 : 0;
  if (e4m3) check_conversion(n, st, D, cv0, f->wg == 3 || f->wg == 4 ? r->threads - cv0 : 128, t);
}

std::vector<const ptxfmha::KernelInfo*> wg_rows() {
  std::vector<const ptxfmha::KernelInfo*> v;
  for (const ptxfmha::KernelInfo* r : ptxfmha::all_kernels())
    if (ptxfmha::decode_row_wg(r)) v.push_back(r);
  return v;
}

}  // namespace

TEST_CASE("sm90 decode cutlass cross-check: the warpgroup rows' descriptors, Q tile and f16 copies equal CUTLASS's layouts") {
  Tally t;
  int rows = 0;
  for (const ptxfmha::KernelInfo* r : wg_rows()) {
    CAPTURE(r->name);
    check_row(r, statements_of(r), t);
    ++rows;
  }
  CHECK(rows == 16);  // _wg, _wg_cl, _e4m3_wg, _e4m3_wg_cl at head dims 64, 128, 256; d256 _e4m3_wgc(_cl),
                     // _e4m3_wg2c(_cl)
  for (const std::string& b : t.bad) FAIL_CHECK(b);
  CHECK(t.bad.empty());
  MESSAGE("sm90 decode cutlass cross-check (CUTLASS " << CUTLASS_MAJOR << "." << CUTLASS_MINOR << "." << CUTLASS_PATCH
                                                      << "): " << rows << " rows, " << t.compared << " checks, "
                                                      << t.elements << " Q-tile and copy elements followed");
}

// Mutations of the PTX text, each of which the checks above must catch: the Q tile stored without
// its swizzle (prepare.sh's mutation Q of bench/results/prepared-s19; in the e4m3 QK rows both of
// Q's tiles), a conversion load moved by 8 bytes (K's in the d256 e4m3 rows, V's in the e4m3 QK
// rows), a descriptor's K k-step offset moved by one (16 bytes); and in the e4m3 QK rows: Q's lo
// tile stored without its swizzle (hi's kept), lo's k-steps reading hi's tile (Q at e4m3 precision:
// the device call's mutation, bench/results/prepared-s20), the rows g + 8 scaled by row g's scale;
// at d256 Q's two e4m3 column blocks stacked, the K and Q k-steps of the second column block
// read from the first, and both column blocks summed into one S accumulator.
// Row kinds (which a mutation applies to): every row; rows with Q in shared memory; e4m3 rows;
// e4m3 QK rows. One kind's text may differ by row (the 16-bit and e4m3 k-step, K's and V's load).
enum class Rows { all, q_tile, e4m3, qk_e4m3, qk_e4m3_d256, pair };
struct Mutation {
  const char* what;
  Rows rows;
  // what it does to a row's statements (qk_e4m3: the row's QK is e4m3; D: its head dim); false
  // where its text was not found
  bool (*apply)(std::vector<Stmt>& st, bool qk_e4m3, int D);
};
bool mut_q_swizzle(std::vector<Stmt>& st, bool, int) {
  return replace_text(st, "xor.b32 %t2, %t1, ", "add.u32 %t2, %zero, ");
}
bool mut_cv_load(std::vector<Stmt>& st, bool, int) {
  return replace_text(st, "ld.shared.v2.b32 {%clov1, %chiv1}, [%t1 + ", "ld.shared.v2.b32 {%clov1, %chiv1}, [%t1 + 8 + ",
                      true);
}
// k-step 1's K offset (the second add.s64 %dd, %dk64 of the PTX: the first QK site's) moved by
// one (16 bytes), in the 16-bit and the e4m3 QK alike
bool mut_k_step(std::vector<Stmt>& st, bool, int) {
  const std::string step = "add.s64 %dd, %dk64, ";
  int seen = 0;
  for (Stmt& s : st)
    if (s.text.rfind(step, 0) == 0 && ++seen == 2) {
      s.text.insert(step.size(), "1 + ");
      return true;
    }
  return false;
}
// WG 4: the second P V half's first k-step on the first half's V columns (the half's offset,
// WG_PV_H1_BYTES, replaced by 0 in "((kk) * 16 * 128 + (offset)) / 16").
bool mut_pv_half(std::vector<Stmt>& st, bool, int) {
  const std::string term = "* 16 * 128 + ";
  for (Stmt& s : st) {
    if (s.text.rfind("add.s64 %dd, %dv64, ", 0) != 0) continue;
    const std::size_t at = s.text.find(term), end = s.text.rfind(") / 16");
    if (at == std::string::npos || end == std::string::npos || end < at) continue;
    const std::size_t off = at + term.size();
    if (s.text.compare(off, end - off, "(0)") == 0) continue;  // a first-half k-step
    s.text.replace(off, end - off, "(0)");
    return true;
  }
  return false;
}
// d256's two 128-byte column blocks (8192 bytes apart: CB_BYTES = (64 * 128)) dropped from the
// statements that begin with `prefix`: Q's e4m3 stores, or the K and Q k-steps (config.ptxh:
// E4M3_CB_OFF), each stacking the second block on the first.
bool drop_column_block(std::vector<Stmt>& st, const std::string& prefix) {
  bool applied = false;
  for (Stmt& s : st) {
    if (s.text.rfind(prefix, 0) != 0) continue;
    for (std::size_t at = s.text.find("* (64 * 128)"); at != std::string::npos; at = s.text.find("* (64 * 128)", at)) {
      s.text.replace(at, 12, "* 0");
      applied = true;
    }
  }
  return applied;
}
bool mut_q_cb(std::vector<Stmt>& st, bool, int) { return drop_column_block(st, "st.shared.b16 [%t2 + "); }
// d256's second column block summed into the first accumulator (one S of 2 x 8 k-steps: the same
// scores, summed twice as long by the FP8 tensor cores)
bool mut_one_acc(std::vector<Stmt>& st, bool, int) {
  bool applied = false;
  for (Stmt& s : st) {
    if (s.text.rfind("wgmma.mma_async", 0) != 0) continue;
    for (std::size_t at = s.text.find("%sx"); at != std::string::npos; at = s.text.find("%sx", at)) {
      s.text.replace(at, 3, "%sw");
      applied = true;
    }
  }
  return applied;
}
bool mut_k_cb(std::vector<Stmt>& st, bool, int) {
  const bool k = drop_column_block(st, "add.s64 %dd, %dk64, ");
  return drop_column_block(st, "add.s64 %dq, %dq64, ") && k;
}
// Q_SPLIT_STEP's lo stores at %qlo_mut = the chunk's address without the row's swizzle (%t0 + the
// chunk's offset), hi's at %t2 as before.
bool mut_q_lo_swizzle(std::vector<Stmt>& st, bool, int) {
  const std::string x = "xor.b32 %t2, %t1, ", lo_store = "st.shared.b16 [%t2 + ";
  bool applied = false;
  for (std::size_t i = 0; i + 1 < st.size(); ++i) {
    if (st[i].text.rfind(x, 0) != 0 || st[i + 1].text != "add.u32 %t2, %t2, %t0") continue;
    const Stmt unswizzled{{}, "add.u32 %qlo_mut, %t0, " + st[i].text.substr(x.size())};  // %t0 + the chunk
    st.insert(st.begin() + static_cast<std::ptrdiff_t>(i + 2), unswizzled);
    applied = true;
  }
  for (Stmt& s : st)
    if (s.text.rfind(lo_store, 0) == 0 && s.text.size() > 6 && s.text.compare(s.text.size() - 6, 6, ", %hk1") == 0)
      s.text.replace(std::strlen("st.shared.b16 ["), 3, "%qlo_mut");
  return applied;
}
bool mut_q_lo_steps(std::vector<Stmt>& st, bool, int D) {
  return replace_text(st, "add.s64 %dq, %dq64, (((64 * " + std::to_string(D) + ")) + ", "add.s64 %dq, %dq64, ((0) + ");
}
bool mut_q_scale(std::vector<Stmt>& st, bool, int) {
  return replace_text(st, "mul.f32 %qx0, %qx0, %qscale1", "mul.f32 %qx0, %qx0, %qscale0");
}

TEST_CASE("sm90 decode cutlass cross-check: a broken Q tile, conversion or k-step offset is caught") {
  const Mutation muts[] = {
      {"Q tile without its swizzle", Rows::q_tile, mut_q_swizzle},
      {"a conversion load 8 bytes off", Rows::e4m3, mut_cv_load},
      {"a K k-step offset moved", Rows::all, mut_k_step},
      {"Q's lo tile without its swizzle", Rows::qk_e4m3, mut_q_lo_swizzle},
      {"Q lo's k-steps on Q hi's tile", Rows::qk_e4m3, mut_q_lo_steps},
      {"rows g + 8 scaled by row g's scale", Rows::qk_e4m3, mut_q_scale},
      {"d256: Q's two e4m3 column blocks stacked", Rows::qk_e4m3_d256, mut_q_cb},
      {"d256: the K and Q k-steps 4-7 in the first column block", Rows::qk_e4m3_d256, mut_k_cb},
      {"d256: both column blocks into one S accumulator", Rows::qk_e4m3_d256, mut_one_acc},
      {"WG 4: the second P V half on the first half's V", Rows::pair, mut_pv_half},
  };
  std::map<std::string, std::pair<int, int>> by_kind;  // what -> (caught, tried)
  int caught = 0, tried = 0;
  for (const ptxfmha::KernelInfo* r : wg_rows()) {
    const ptxfmha::DecodeRowFacts* f = ptxfmha::decode_row_facts(r);
    const std::vector<Stmt> real = statements_of(r);
    const bool q_tile = has_q_tile(real), qk_e4m3 = has_e4m3_qk(real);
    for (const Mutation& m : muts) {
      if ((m.rows == Rows::q_tile && !q_tile) || (m.rows == Rows::e4m3 && f->kv_bytes != 1) ||
          (m.rows == Rows::qk_e4m3 && !qk_e4m3) || (m.rows == Rows::qk_e4m3_d256 && !(qk_e4m3 && r->head_dim == 256)) ||
          (m.rows == Rows::pair && f->wg != 4))
        continue;
      std::vector<Stmt> st = real;
      const std::string row = r->name, what = m.what;
      CAPTURE(row);
      CAPTURE(what);
      CHECK(m.apply(st, qk_e4m3, r->head_dim));
      Tally t;
      check_row(r, st, t);
      ++tried;
      ++by_kind[m.what].second;
      if (!t.bad.empty()) ++caught, ++by_kind[m.what].first;
      CHECK_MESSAGE(!t.bad.empty(), "not caught");
    }
  }
  // every row's k-step; the 12 rows with Q in shared memory (d256 _wg 2, e4m3 QK 10); the 10
  // e4m3 rows; 3 x the 10 e4m3 QK rows; 3 x the 6 d256 e4m3 QK rows (_e4m3_wg, _e4m3_wgc,
  // _e4m3_wg2c and twins); the 2 WG 4 rows' P V halves
  CHECK(tried == 16 + 12 + 10 + 3 * 10 + 3 * 6 + 2);
  std::ostringstream kinds;
  for (const auto& kv : by_kind) kinds << "; " << kv.first << ": " << kv.second.first << " of " << kv.second.second;
  MESSAGE("sm90 decode cutlass cross-check: " << caught << " of " << tried << " mutations caught" << kinds.str());
}

#else
TEST_CASE("sm90 decode cutlass cross-check: the warpgroup rows' descriptors, Q tile and f16 copies equal CUTLASS's layouts" *
          doctest::skip(true)) {}
TEST_CASE("sm90 decode cutlass cross-check: a broken Q tile, conversion or k-step offset is caught" * doctest::skip(true)) {}
#endif
