// The straight-line interpreter of the sm90 decode CUTLASS cross-checks
// (tests/test_cpu_sm90_decode_cutlass.cpp and test_cpu_sm90_decode_cpasync.cpp, through
// tests/sm90_decode_xcheck.h): a kernel's preprocessed PTX statements
// (tests/sm100_model/ptx_roles.h) run without branches, with only the integer operations of its
// address arithmetic (32-bit, and the 64-bit ones of the cp.async producer's sources, with
// ld.param from a given parameter block) and, for data, where each byte came from (a
// shared-memory load, or a Q element through the e4m3 split's bit and float operations). No
// CUTLASS here.
#ifndef PTXFMHA_TESTS_SM90_DECODE_INTERP_H
#define PTXFMHA_TESTS_SM90_DECODE_INTERP_H

#include <algorithm>
#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ptx_util.h"
#include "sm100_model/ptx_roles.h"

namespace sm90_decode_xcheck {

using sm100_ptx::Stmt;

// An integer expression of the generated PTX (no macros left in it).
inline bool int_expr(const std::string& e, long long* out, std::string* err) {
  static const std::map<std::string, std::string> none;
  ptxfmha_test::IntExpr ev(none);
  return ev.eval(e, out, err);
}

// ---- a straight-line interpreter of the kernels' integer address arithmetic -----------------
// A register: an integer (known), or data: for each byte of a loaded value the shared-memory
// offset it was loaded from (bytes; -1: a byte known to hold no data, such as the low half of
// shl.b32 x, 16), or unknown. After a conversion a data register holds one entry per element (an
// f16x2 register two, an e4m3x2 one two, an f16 or f32 one), not per byte.
struct Val {
  bool known = false;
  long long v = 0;
  std::vector<long long> bytes;
};

// Q's elements as data (check_q_tiles_e4m3): Q element (row, col) is kQElem + row * 1024 + col;
// the split tags what it makes: the scale register that multiplied it (kQScale0 / kQScale1 for
// %qscale0 / %qscale1) and the remainder (kQLo: lo = Q s - hi).
constexpr long long kQElem = 1ll << 40, kQScale0 = 1ll << 41, kQScale1 = 1ll << 42, kQLo = 1ll << 43;
// The one element a data register holds (every entry but -1 the same), or -1.
inline long long elem_of(const Val& x) {
  long long e = -1;
  for (long long b : x.bytes) {
    if (b < 0) continue;
    if (e >= 0 && b != e) return -1;
    e = b;
  }
  return e;
}

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
  std::vector<long long> copies;  // cp.async.cg.shared.global destinations, in order
  std::vector<long long> sources;  // and their global sources (kUnknown where not known)
  std::map<long long, long long> params;  // ld.param [dparams+N]: the parameter block's values
  std::map<std::string, bool> preds;      // predicates with a known value (@%p / @!%p statements)
  static constexpr long long kUnknown = -1;
  bool bad_addr = false;        // a store or load whose address was unknown
  std::string bad_what;

  void set(const std::string& reg, long long v) {
    r[reg] = Val{true, v, {}};
    fixed.insert(reg);
  }
  void set_data(const std::string& reg, std::vector<long long> bytes) {
    r[reg] = Val{false, 0, std::move(bytes)};
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
    bool predicated = !text.empty() && text[0] == '@';
    if (predicated) {  // "@%p op ..." / "@!%p op ...": run or skip where the predicate is known
      const std::size_t sp = text.find(' ');
      const bool neg = text.size() > 1 && text[1] == '!';
      const auto it = preds.find(text.substr(neg ? 2 : 1, sp - (neg ? 2 : 1)));
      if (it != preds.end()) {
        if (it->second == neg) return;
        predicated = false;
      }
    }
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
    if (op.rfind("cp.async.cg.shared.global", 0) == 0) {  // [dst], [src], 16, n: the destination
      long long a = 0;
      if (!address(o[0], &a)) {
        if (!bad_addr) bad_what = text;
        bad_addr = true;
        return;
      }
      copies.push_back(a);
      long long src = 0;
      sources.push_back(o.size() > 1 && address(o[1], &src) ? src : kUnknown);
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
    if (o[0][0] == '{') {  // mov.b32 {%hk0, %hk1}, %w: two 2-byte halves (or two f16 elements)
      const std::vector<std::string> d = sm100_ptx::reg_list(o[0]);
      const std::vector<long long> b = o.size() > 1 && r.count(o[1]) ? r[o[1]].bytes : std::vector<long long>{};
      for (std::size_t k = 0; k < d.size(); ++k)
        write(d[k], b.size() == 4   ? Val{false, 0, {b[2 * k], b[2 * k + 1]}}
                    : b.size() == 2 ? Val{false, 0, {b[k]}}
                                    : Val{});
      return;
    }
    const std::string& dst = o[0];
    if (op == "cvt.rn.f16x2.e4m3x2") {  // two e4m3 bytes -> two f16 (low byte -> low half)
      write(dst, r.count(o[1]) ? Val{false, 0, r[o[1]].bytes} : Val{});
      return;
    }
    if (data_step(op, o)) return;
    if (op.rfind("ld.param.", 0) == 0) {  // [dparams+N]: the value set for N, else unknown
      const std::size_t plus = o.size() > 1 ? o[1].find('+') : std::string::npos;
      long long off = -1;
      const auto it = plus == std::string::npos || !imm(o[1].substr(plus + 1, o[1].size() - plus - 2), &off)
                          ? params.end()
                          : params.find(off);
      if (predicated || it == params.end()) unknown(dst);
      else write(dst, Val{true, op == "ld.param.u32" ? it->second & 0xFFFFFFFFll : it->second, {}});
      return;
    }
    long long a = 0, b = 0, c = 0;
    const bool ok_a = o.size() > 1 && value(o[1], &a), ok_b = o.size() > 2 && value(o[2], &b),
               ok_c = o.size() > 3 && value(o[3], &c);
    long long v = 0;
    bool ok = !predicated;
    // 64-bit results (the cp.async producer's sources) keep every bit, 32-bit ones the low 32
    const bool wide = op == "cvt.u64.u32" || op == "mov.u64" || op == "add.u64" || op == "mul.wide.u32" ||
                      op == "mul.lo.u64" || op == "mad.lo.u64";
    if (op == "cvt.u64.u32") ok = ok && ok_a, v = a & 0xFFFFFFFFll;
    else if (op == "mov.u32" || op == "mov.b32" || op == "mov.u64") ok = ok && ok_a, v = a;
    else if (op == "add.u64") ok = ok && ok_a && ok_b, v = a + b;
    else if (op == "mul.wide.u32" || op == "mul.lo.u64") ok = ok && ok_a && ok_b, v = a * b;
    else if (op == "mad.lo.u64") ok = ok && ok_a && ok_b && ok_c, v = a * b + c;
    else if (op == "add.u32" || op == "add.s32") ok = ok && ok_a && ok_b, v = a + b;
    else if (op == "sub.u32" || op == "sub.s32") ok = ok && ok_a && ok_b, v = a - b;
    else if (op == "shl.b32") ok = ok && ok_a && ok_b, v = a << b;
    else if (op == "shr.u32") ok = ok && ok_a && ok_b, v = a >> b;
    else if (op == "and.b32") ok = ok && ok_a && ok_b, v = a & b;
    else if (op == "or.b32") ok = ok && ok_a && ok_b, v = a | b;
    else if (op == "xor.b32") ok = ok && ok_a && ok_b, v = a ^ b;
    else if (op == "mul.lo.u32") ok = ok && ok_a && ok_b, v = a * b;
    else if (op == "mad.lo.u32") ok = ok && ok_a && ok_b && ok_c, v = a * b + c;
    else if (op == "min.u32") ok = ok && ok_a && ok_b, v = std::min(a & 0xFFFFFFFFll, b & 0xFFFFFFFFll);
    else ok = false;
    if (ok) write(dst, Val{true, wide ? v : v & 0xFFFFFFFFll, {}});
    else unknown(dst);
  }
  // Q_E4M3_TILES_STORE's data (kv_e4m3_wg.ptxh: Q_SPLIT_ONE), where the source holds data: a bf16
  // element to f32 (shl.b32 x, 16: the low half; and.b32 x, 0xFFFF0000: the high half), moves,
  // times a scale register (the element tagged with the scale), the remainder hi - lo of one
  // element (tagged kQLo), f16 -> f32, and two f32 -> e4m3x2 (b in the low byte, a in the high).
  // False where the instruction is not one of these on data (the integer rules apply).
  bool data_step(const std::string& op, const std::vector<std::string>& o) {
    auto data = [&](std::size_t i) -> const Val* {
      if (o.size() <= i || !r.count(o[i])) return nullptr;
      const Val& x = r[o[i]];
      return x.known || x.bytes.empty() ? nullptr : &x;
    };
    const std::string& dst = o[0];
    const Val* a = data(1);
    const Val* b = data(2);
    auto scalar = [](long long e) { return e < 0 ? Val{} : Val{false, 0, {e, e, e, e}}; };
    if (op == "shl.b32" && a && a->bytes.size() == 4 && o.size() == 3 && o[2] == "16") {
      write(dst, Val{false, 0, {-1, -1, a->bytes[0], a->bytes[1]}});
    } else if (op == "and.b32" && a && a->bytes.size() == 4 && o.size() == 3 && o[2] == "0xFFFF0000") {
      write(dst, Val{false, 0, {-1, -1, a->bytes[2], a->bytes[3]}});
    } else if (op == "mov.b32" && a) {
      write(dst, *a);
    } else if (op == "mul.f32" && a) {
      const long long e = elem_of(*a);
      const long long tag = o.size() > 2 && o[2] == "%qscale0" ? kQScale0 : o.size() > 2 && o[2] == "%qscale1" ? kQScale1 : 0;
      write(dst, e < 0 ? Val{} : scalar(e | tag));
    } else if (op == "sub.f32" && a && b) {
      const long long e = elem_of(*a);
      write(dst, e >= 0 && e == elem_of(*b) ? scalar(e | kQLo) : Val{});
    } else if (op == "cvt.f32.f16" && a) {
      write(dst, scalar(elem_of(*a)));
    } else if (op == "cvt.rn.satfinite.e4m3x2.f32" && a && b) {
      const long long hi = elem_of(*a), lo = elem_of(*b);
      write(dst, hi < 0 || lo < 0 ? Val{} : Val{false, 0, {lo, hi}});
    } else {
      return false;
    }
    return true;
  }
};

}  // namespace sm90_decode_xcheck
#endif
