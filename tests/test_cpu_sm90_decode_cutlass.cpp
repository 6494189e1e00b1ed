// "sm90 decode cutlass cross-check": the shared-memory side of every decode warpgroup row (_wg,
// _e4m3_wg and their _cl twins, sm90a), read from its preprocessed PTX and compared with CUTLASS:
//   - the wgmma descriptors: K (B of S = Q K^T, K-major), the Q tile (A, K-major, where Q is read
//     from shared memory), V (B of O += P V, MN-major, N = D), base fields and every k-step's
//     offset, against cute::GMMA's descriptors (make_fragment_A / _B of partition_A / _B of the
//     tiles laid out with GMMA::Layout_K_SW128_Atom / Layout_MN_SW128_Atom, the layouts TMA's
//     128-byte swizzle writes: checked too, element by element);
//   - what the consumers write for those descriptors to read: the Q tile (Q_TILE_STORE: every
//     thread's Q fragments, followed through the PTX's address arithmetic for each (m-tile, g,
//     q4)) and the e4m3 rows' f16 copies (the conversion map: every thread's loads of the e4m3
//     stage and stores to the copy, followed through LANE_OFFSETS and every conversion in the
//     main loop), element by element against the CuTe layout of the copy and TMA's layout of the
//     e4m3 stage.
// The PTX (statements as tests/sm100_model/ptx_roles.h parses them: one space between fields) is
// interpreted straight-line (no branches taken; the base registers of the stage and
// the copies held at 0, so addresses are offsets from them), with only the integer operations
// the address arithmetic uses; a register written by anything else becomes unknown, and an
// unknown address fails the check.
//
// CUTLASS: PyPI nvidia-cutlass 4.2.0.0 (tools/deps.d/40-cutlass.sh -> .deps/cutlass), as for the
// sm100a cross-check (tests/tests.mk gives this object the same flags). Without the package the
// test cases report themselves skipped, never passed.
#include <cstddef>
#include <cstdint>

#if PTXFMHA_HAVE_CUTLASS
#include "cute_host_shim.h"  // the shared-memory address of a host pointer (before CuTe)
#include <cute/atom/mma_traits_sm90_gmma.hpp>
#include <cute/tensor.hpp>
#include <cutlass/version.h>
#endif

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "decode_rows.h"
#include "ptx_util.h"
#include "sm100_model/ptx_roles.h"

#if PTXFMHA_HAVE_CUTLASS
namespace {

using namespace cute;
using sm100_ptx::Stmt;

// An integer expression of the generated PTX (no macros left in it).
bool int_expr(const std::string& e, long long* out, std::string* err) {
  static const std::map<std::string, std::string> none;
  ptxfmha_test::IntExpr ev(none);
  return ev.eval(e, out, err);
}

// ---- a straight-line interpreter of the kernels' integer address arithmetic -----------------
// A register: an integer (known), or data: for each byte of a loaded value the shared-memory
// offset it was loaded from (bytes), or unknown.
struct Val {
  bool known = false;
  long long v = 0;
  std::vector<long long> bytes;
};

struct Store {
  long long addr = 0;
  std::vector<std::string> regs;             // the stored registers, in order
  std::vector<std::vector<long long>> data;  // their source bytes (loads), where known
};

class Interp {
 public:
  std::map<std::string, Val> r;
  std::set<std::string> fixed;  // inputs: never written by an instruction
  std::vector<Store> stores;
  bool bad_addr = false;        // a store or load whose address was unknown
  std::string bad_what;

  void set(const std::string& reg, long long v) {
    r[reg] = Val{true, v, {}};
    fixed.insert(reg);
  }
  void run(const std::vector<Stmt>& st, std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to && i < st.size(); ++i) step(st[i].text);
  }

 private:
  bool imm(const std::string& e, long long* out) {
    std::string err;
    return int_expr(e, out, &err);
  }
  bool value(const std::string& o, long long* out) {
    if (!o.empty() && o[0] == '%') {
      auto it = r.find(o);
      if (it == r.end() || !it->second.known) return false;
      *out = it->second.v;
      return true;
    }
    return imm(o, out);
  }
  // "[%t2 + (1) * 8192 + 1024]" or "[%t2]": the register's value plus the rest
  bool address(const std::string& a, long long* out) {
    const std::string in = sm100_ptx::trim(a.substr(1, a.size() - 2));
    const std::size_t plus = in.find('+');
    long long base = 0, off = 0;
    if (!value(sm100_ptx::trim(in.substr(0, plus)), &base)) return false;
    if (plus != std::string::npos && !imm(in.substr(plus + 1), &off)) return false;
    *out = base + off;
    return true;
  }
  void write(const std::string& reg, const Val& v) {
    if (!fixed.count(reg)) r[reg] = v;
  }
  void unknown(const std::string& reg) { write(reg, Val{}); }
  void step(const std::string& text) {
    const bool predicated = !text.empty() && text[0] == '@';
    std::string op;
    const std::vector<std::string> o = sm100_ptx::operands(sm100_ptx::body(text), &op);
    if (o.empty()) return;
    if (op.rfind("st.shared", 0) == 0) {
      Store s;
      if (!address(o[0], &s.addr)) {
        if (!bad_addr) bad_what = text;
        bad_addr = true;
        return;
      }
      s.regs = o[1][0] == '{' ? sm100_ptx::reg_list(o[1]) : std::vector<std::string>{o[1]};
      for (const std::string& x : s.regs) s.data.push_back(r.count(x) ? r[x].bytes : std::vector<long long>{});
      stores.push_back(s);
      return;
    }
    if (o[0][0] != '%' && o[0][0] != '{') return;  // no register result
    if (op.rfind("ld.shared.v2.b32", 0) == 0) {  // {a, b}, [addr]: 8 bytes
      const std::vector<std::string> d = sm100_ptx::reg_list(o[0]);
      long long a = 0;
      if (!address(o[1], &a)) {
        if (!bad_addr) bad_what = text;
        bad_addr = true;
        for (const std::string& x : d) unknown(x);
        return;
      }
      for (std::size_t k = 0; k < d.size(); ++k) write(d[k], Val{false, 0, {a + 4 * long(k), a + 4 * long(k) + 1, a + 4 * long(k) + 2, a + 4 * long(k) + 3}});
      return;
    }
    if (o[0][0] == '{') {  // mov.b32 {%hk0, %hk1}, %w: two 2-byte halves
      const std::vector<std::string> d = sm100_ptx::reg_list(o[0]);
      const std::vector<long long> b = o.size() > 1 && r.count(o[1]) ? r[o[1]].bytes : std::vector<long long>{};
      for (std::size_t k = 0; k < d.size(); ++k)
        write(d[k], b.size() == 4 ? Val{false, 0, {b[2 * k], b[2 * k + 1]}} : Val{});
      return;
    }
    const std::string& dst = o[0];
    if (op == "cvt.rn.f16x2.e4m3x2") {  // two e4m3 bytes -> two f16 (low byte -> low half)
      write(dst, r.count(o[1]) ? Val{false, 0, r[o[1]].bytes} : Val{});
      return;
    }
    long long a = 0, b = 0, c = 0;
    const bool ok_a = o.size() > 1 && value(o[1], &a), ok_b = o.size() > 2 && value(o[2], &b),
               ok_c = o.size() > 3 && value(o[3], &c);
    long long v = 0;
    bool ok = !predicated;
    if (op == "mov.u32" || op == "mov.b32") ok = ok && ok_a, v = a;
    else if (op == "add.u32" || op == "add.s32") ok = ok && ok_a && ok_b, v = a + b;
    else if (op == "sub.u32" || op == "sub.s32") ok = ok && ok_a && ok_b, v = a - b;
    else if (op == "shl.b32") ok = ok && ok_a && ok_b, v = a << b;
    else if (op == "shr.u32") ok = ok && ok_a && ok_b, v = a >> b;
    else if (op == "and.b32") ok = ok && ok_a && ok_b, v = a & b;
    else if (op == "or.b32") ok = ok && ok_a && ok_b, v = a | b;
    else if (op == "xor.b32") ok = ok && ok_a && ok_b, v = a ^ b;
    else if (op == "mul.lo.u32") ok = ok && ok_a && ok_b, v = a * b;
    else if (op == "mad.lo.u32") ok = ok && ok_a && ok_b && ok_c, v = a * b + c;
    else ok = false;
    if (ok) write(dst, Val{true, v & 0xFFFFFFFFll, {}});
    else unknown(dst);
  }
};

// ---- the kernel's descriptors, from its PTX ---------------------------------------------------
struct Desc {
  bool found = false;
  long long fields = 0;          // what MAKE_DESC_CTA ors into (addr & 0x3FFFF) >> 4
  std::vector<long long> steps;  // the k-steps' offsets (added to the descriptor), in order
};

long long eval_or_throw(const std::string& e) {
  long long v = 0;
  std::string err;
  if (!int_expr(e, &v, &err)) throw std::runtime_error("cannot evaluate '" + e + "': " + err);
  return v;
}

// The descriptor `base` (%dk64, %dv64, %dq64): its fields (the first or.b64 into it) and the
// offsets of the first `n` k-steps made from it (add.s64 %dd / %dq, base, offset).
Desc kernel_desc(const std::vector<Stmt>& st, const std::string& base, int n) {
  Desc d;
  for (const Stmt& s : st) {
    std::string op;
    const std::vector<std::string> o = sm100_ptx::operands(sm100_ptx::body(s.text), &op);
    if (op == "or.b64" && o.size() == 3 && o[0] == base && o[1] == base && !d.found) {
      d.found = true;
      d.fields = eval_or_throw(o[2]);
    }
    if (op == "add.s64" && o.size() == 3 && o[1] == base && static_cast<int>(d.steps.size()) < n)
      d.steps.push_back(eval_or_throw(o[2]));
  }
  return d;
}

uint64_t desc_bits(const GMMA::DescriptorIterator& it) { return it.desc_.desc_; }
uint64_t desc_bits(const GmmaDescriptor& d) { return d.desc_; }

using cutlass_xcheck::Tally;

using cutlass_xcheck::Arena;

// TMA's 128-byte swizzle of a box of 128-byte rows, column block cb of 64 16-bit columns (8192
// bytes a block of 64 rows): element (row, col) of a 64 x D tile (K, V, the Q tile, the copies).
long long sw128_offset(int row, int col) {
  const int cb = col / 64, c = col % 64;
  return cb * 8192 + row * 128 + (((c / 8) ^ (row % 8)) * 16) + (c % 8) * 2;
}

// The byte offset of element (a, b) of a CuTe shared-memory layout: its swizzle (GMMA's
// Sw<3,4,3> for the 128-byte swizzle) acts on byte addresses (smem_ptr_flag), so on the inner
// layout's element offset times the element's bytes.
template <class T, class L>
long long layout_bytes(const L& l, int a, int b) {
  return static_cast<long long>(l.layout_a()(static_cast<int>(sizeof(T)) * l.layout_b()(a, b)));
}

// What CUTLASS computes for a row of head dim D and 16-bit operand type T, and what the kernel
// writes for it: the descriptor checks (K, Q tile, V) and the layouts.
template <int D, class T, class QkOp, class PvOp>
void compare_row(const std::string& name, const std::vector<Stmt>& st, Tally& t) {
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

// The Q tile: Q_TILE_STORE followed for every (m-tile, g, q4); the mma.sync A fragment register
// %qa<ks>_<j> holds row 16 mt + g (+ 8 for j = 1, 3), columns 16 ks + 2 q4 (+ 8 for j = 2, 3)
// and + 1 (PTX ISA, mma.m16n8k16 A fragment). Every element of the 64 x D tile written once, at
// its place in the layout the Q descriptor reads (sw128_offset = CuTe's, compare_row).
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
  // the Q tile's offset: the descriptor's address (add.u32 %t0, %smem, Q_TILE_OFF; cvt.u64.u32
  // %dq64, %t0)
  long long q_off = -1;
  for (std::size_t i = 1; i < st.size(); ++i)
    if (st[i].text.rfind("cvt.u64.u32", 0) == 0 && st[i].text.find("%dq64") != std::string::npos &&
        st[i - 1].text.find("%smem") != std::string::npos) {
      std::string op;
      q_off = eval_or_throw(sm100_ptx::operands(st[i - 1].text, &op)[2]);
      break;
    }
  t.truth(name + ": the Q descriptor's address found", q_off >= 0);
  std::map<long long, int> seen;  // byte offset in the tile -> writes
  bool placed = true;
  std::string first_bad;
  for (int mt = 0; mt < 4; ++mt)
    for (int g = 0; g < 8; ++g)
      for (int q4 = 0; q4 < 4; ++q4) {
        Interp in;
        in.set("%mt", mt);
        in.set("%g", g);
        in.set("%q4", q4);
        in.set("%smem", 0);
        in.run(st, from, to);
        t.truth(name + ": Q tile addresses known", !in.bad_addr);
        for (const Store& s : in.stores) {
          const std::string& reg = s.regs[0];
          int ks = 0, j = 0;
          if (std::sscanf(reg.c_str(), "%%qa%d_%d", &ks, &j) != 2) continue;
          const int row = 16 * mt + g + ((j & 1) ? 8 : 0), col = 16 * ks + 2 * q4 + ((j & 2) ? 8 : 0);
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
      }
  t.truth(name + ": every Q element at its place in the tile: " + first_bad, placed);
  bool once = static_cast<int>(seen.size()) == 64 * D;
  for (const auto& kv : seen) once = once && kv.second == 1;
  t.truth(name + ": every element of the 64 x D Q tile written once (" + std::to_string(seen.size()) + " written)", once);
}

// The e4m3 rows' conversion: every thread's stores to the f16 copy, the source bytes of each f16
// from the thread's loads of the e4m3 stage. An e4m3 stage holds K then V (KV_TILE_BYTES each),
// column blocks of cb_cols columns x 64 rows (cb_cols bytes a row), TMA's swizzle of that row
// width; the copy K then V (64 x D x 2 each) in the 16-bit layout above.
void check_conversion(const std::string& name, const std::vector<Stmt>& st, int D, Tally& t) {
  const int cb_cols = D == 64 ? 64 : 128, tile_bytes = 64 * D, copy_tile_bytes = 64 * D * 2;
  auto src_elem = [&](long long off, int* tile, int* row, int* col) {
    *tile = off >= tile_bytes ? 1 : 0;
    off %= tile_bytes;
    const int cb = static_cast<int>(off / (64 * cb_cols));
    const long long in = off % (64 * cb_cols);
    *row = static_cast<int>(in / cb_cols);
    const int sw_chunk = static_cast<int>((in % cb_cols) / 16), byte = static_cast<int>(in % 16);
    const int chunk = cb_cols == 128 ? sw_chunk ^ (*row % 8) : sw_chunk ^ ((*row / 2) % 4);
    *col = cb * cb_cols + chunk * 16 + byte;
  };
  std::map<long long, std::pair<int, int>> dst_elem;  // byte offset in a copy tile -> (row, col)
  for (int row = 0; row < 64; ++row)
    for (int col = 0; col < D; ++col) dst_elem[sw128_offset(row, col)] = {row, col};
  std::set<long long> covered;  // tile * copy_tile_bytes + offset
  bool ok = true, any = false;
  std::string first_bad;
  for (int thr = 0; thr < 128; ++thr) {
    Interp in;
    in.set("%thr", thr);
    for (const char* b : {"%smem", "%stage_base", "%sb_cur", "%cv_base", "%cv_cur", "%cv_nxt", "%zero"}) in.set(b, 0);
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
          const int dtile = dst >= copy_tile_bytes ? 1 : 0;
          const auto de = dst_elem.find(dst % copy_tile_bytes);
          int stile = 0, srow = 0, scol = 0;
          src_elem(b[h], &stile, &srow, &scol);
          const bool match = de != dst_elem.end() && stile == dtile && de->second.first == srow && de->second.second == scol;
          if (!match && ok) {
            first_bad = "thread " + std::to_string(thr) + ": e4m3 byte " + std::to_string(b[h]) + " (tile " +
                        std::to_string(stile) + ", row " + std::to_string(srow) + ", col " + std::to_string(scol) +
                        ") stored at copy byte " + std::to_string(dst);
          }
          ok = ok && match;
          covered.insert(dtile * copy_tile_bytes + dst % copy_tile_bytes);
        }
    }
  }
  t.truth(name + ": conversions found", any);
  t.truth(name + ": every f16 of the copy from its own e4m3 element: " + first_bad, ok);
  t.truth(name + ": both copy tiles covered (" + std::to_string(covered.size()) + " of " +
              std::to_string(2 * 64 * D) + " elements)",
          static_cast<int>(covered.size()) == 2 * 64 * D);
}

std::vector<Stmt> statements_of(const ptxfmha::KernelInfo* r) {
  bool ok = false;
  const std::string text = ptxfmha_test::read_text_file(ptxfmha_test::preprocessed_path(r->arch, r->name), &ok);
  if (!ok) throw std::runtime_error(std::string("missing preprocessed PTX of ") + r->name + " (run make)");
  return sm100_ptx::parse_statements(text);
}

// Whether the row's QK wgmmas read Q from a Q tile (its PTX makes the Q tile's descriptor; which
// rows do is checked on the SASS by test_cpu_sass_wg_q.cpp and test_cpu_decode_abi.cpp).
bool has_q_tile(const std::vector<Stmt>& st) { return kernel_desc(st, "%dq64", 0).found; }

// Every check of one row on the statements `st` (the row's, or a mutation of them).
void check_row(const ptxfmha::KernelInfo* r, const std::vector<Stmt>& st, Tally& t) {
  const ptxfmha::DecodeRowFacts* f = ptxfmha::decode_row_facts(r);
  const int D = r->head_dim;
  const bool e4m3 = f->kv_bytes == 1, q_tile = has_q_tile(st);
  const std::string n = r->name;
  using K = GMMA::Major;
  if (!e4m3 && D == 64) compare_row<64, bfloat16_t, SM90_64x64x16_F32BF16BF16_SS<K::K, K::K>, SM90_64x64x16_F32BF16BF16_SS<K::K, K::MN>>(n, st, t);
  if (!e4m3 && D == 128) compare_row<128, bfloat16_t, SM90_64x64x16_F32BF16BF16_SS<K::K, K::K>, SM90_64x128x16_F32BF16BF16_SS<K::K, K::MN>>(n, st, t);
  if (!e4m3 && D == 256) compare_row<256, bfloat16_t, SM90_64x64x16_F32BF16BF16_SS<K::K, K::K>, SM90_64x256x16_F32BF16BF16_SS<K::K, K::MN>>(n, st, t);
  if (e4m3 && D == 64) compare_row<64, half_t, SM90_64x64x16_F32F16F16_SS<K::K, K::K>, SM90_64x64x16_F32F16F16_SS<K::K, K::MN>>(n, st, t);
  if (e4m3 && D == 128) compare_row<128, half_t, SM90_64x64x16_F32F16F16_SS<K::K, K::K>, SM90_64x128x16_F32F16F16_SS<K::K, K::MN>>(n, st, t);
  if (e4m3 && D == 256) compare_row<256, half_t, SM90_64x64x16_F32F16F16_SS<K::K, K::K>, SM90_64x256x16_F32F16F16_SS<K::K, K::MN>>(n, st, t);
  if (q_tile) check_q_tile(n, st, D, t);
  if (e4m3) check_conversion(n, st, D, t);
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
  CHECK(rows == 12);  // _wg, _wg_cl, _e4m3_wg, _e4m3_wg_cl at head dims 64, 128, 256
  for (const std::string& b : t.bad) FAIL_CHECK(b);
  CHECK(t.bad.empty());
  MESSAGE("sm90 decode cutlass cross-check (CUTLASS " << CUTLASS_MAJOR << "." << CUTLASS_MINOR << "." << CUTLASS_PATCH
                                                      << "): " << rows << " rows, " << t.compared << " checks, "
                                                      << t.elements << " Q-tile and copy elements followed");
}

// Mutations of the PTX text, each of which the checks above must catch: the Q tile stored without
// its swizzle (prepare.sh's mutation Q of bench/results/prepared-s19), a conversion load moved by
// 8 bytes, a descriptor's k-step offset moved by one (16 bytes).
TEST_CASE("sm90 decode cutlass cross-check: a broken Q tile, conversion or k-step offset is caught") {
  struct Mutation { const char* what; const char* from; const char* to; bool q_tile_rows, e4m3_rows; };
  const Mutation muts[] = {
      {"Q tile without its swizzle", "xor.b32 %t2, %t1, ", "add.u32 %t2, %zero, ", true, false},
      {"a conversion load 8 bytes off", "ld.shared.v2.b32 {%clo1, %chi1}, [%t0 + ", "ld.shared.v2.b32 {%clo1, %chi1}, [%t0 + 8 + ", false, true},
      {"a K k-step offset moved", "add.s64 %dd, %dk64, ((0) * (64 * 128) + (1) * 32) / 16",
       "add.s64 %dd, %dk64, 1 + ((0) * (64 * 128) + (1) * 32) / 16", false, false},
  };
  int caught = 0, tried = 0;
  for (const ptxfmha::KernelInfo* r : wg_rows()) {
    const ptxfmha::DecodeRowFacts* f = ptxfmha::decode_row_facts(r);
    const std::vector<Stmt> real = statements_of(r);
    const bool q_tile = has_q_tile(real);
    for (const Mutation& m : muts) {
      if ((m.q_tile_rows && !q_tile) || (m.e4m3_rows && f->kv_bytes != 1)) continue;
      std::vector<Stmt> st = real;
      bool applied = false;
      for (Stmt& s : st) {
        const std::size_t at = s.text.find(m.from);
        if (at == std::string::npos) continue;
        s.text.replace(at, std::strlen(m.from), m.to);
        applied = true;
        if (std::string(m.what).find("load") != std::string::npos) break;  // one load
      }
      CAPTURE(r->name);
      CAPTURE(m.what);
      CHECK(applied);
      Tally t;
      check_row(r, st, t);
      ++tried;
      if (!t.bad.empty()) ++caught;
      CHECK_MESSAGE(!t.bad.empty(), "not caught");
    }
  }
  CHECK(tried == 12 + 6 + 6);  // every row's k-step; the 6 Q-tile rows; the 6 e4m3 rows
  MESSAGE("sm90 decode cutlass cross-check: " << caught << " of " << tried << " mutations caught");
}

#else
TEST_CASE("sm90 decode cutlass cross-check: the warpgroup rows' descriptors, Q tile and f16 copies equal CUTLASS's layouts" *
          doctest::skip(true)) {}
TEST_CASE("sm90 decode cutlass cross-check: a broken Q tile, conversion or k-step offset is caught" * doctest::skip(true)) {}
#endif
