// Executes one thread of a preprocessed sm100a forward kernel on the CPU (tests/sm100_model/
// ptx_roles.h parses it) and records its synchronisation: every mbarrier init / try_wait (with
// the parity it waits for) / arrive / arrive.expect_tx (bytes), tcgen05.commit, tcgen05.fence,
// named barrier, tcgen05.mma (its accumulator's TMEM address) and TMA load, in program order,
// with the barriers' shared-memory addresses. tests/test_cpu_sm100a_protocol.cpp compares these
// traces with the protocol model's programs of the same roles for the same work tiles: the
// parities, counts and orders the model was explored with are the ones the PTX computes.
//
// What it executes: the integer, predicate and address arithmetic of the PTX (b32/u32/s32/b64/
// u64/s64 add, sub, mul.lo, mad.lo, div, rem, min, max, and, or, xor, shl, shr, neg, selp, setp,
// cvt, mov incl. 64-bit packs; add/sub .sat of s32; mul.wide; setp with .and/.or of a second
// predicate), ld.param from a given parameter block, ld/st.shared of words (tcgen05.alloc writes
// the TMEM base address), ld.global of the 32-bit words given in `global` (device metadata such
// as cu_seqlens: the feature variants' tests), branches. TMA loads and stores are traced with
// their coordinates, st.global with its address (when known), ld.global (its address: the
// metadata reads), st.shared (address and bytes) and fence.proxy.async, so the tests can bound
// every access a thread makes and follow the EXT rows' V tail fix. Data is not executed: fp32 results,
// TMEM loads and shared-memory data other than the words written here are "unknown"; a waited
// mbarrier passes at once (the trace is the thread's own sequence, not a schedule); vote.sync
// of a known predicate is that lane's value (the warp agrees where the kernel's vote is
// warp-uniform by construction: masking counts, which the roles' lanes share per warp quarter
// only approximately, see unknown_branches). A branch on an unknown predicate is not taken and
// counted. With trace_data (the sm90 decode plain rows' model, tests/sm90_decode_plain.h) it also
// traces the data side: ldmatrix and ld.shared addresses, st.shared words, cp.async copies and
// their cp.async.mbarrier.arrive, cp.async.commit_group / wait_group (the bench's read probe),
// bar.warp.sync, shfl.sync.idx; and takes from hooks what other
// threads would give it (another role's shared words, atom results, a lane's broadcast).
// Each statement is decoded once (Decoded: guard, opcode, operands, the rule of exec, register
// numbers, integer operands, and the base and offset of each address operand), shareable by the
// threads of one statement vector (`decoding`, which also keeps the few integer expressions
// evaluated outside operands: vector lists' elements, TMA coordinates).
#pragma once
#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "ptx_roles.h"
#include "ptx_util.h"

namespace sm100_exec {

struct TraceEv {
  std::string kind;  // init, wait, arrive, expect_tx, commit, fence_before, fence_after, bar_sync, mma, tma,
                     // tma_store, st_global, ld_global, st_shared (arg: bytes), fence_proxy, mask; with
                     // trace_data also ld_shared, warp_sync, cp_async (arg: bytes; src), cp_async_arrive, shfl,
                     // cp_async_commit, cp_async_wait (arg: the groups it leaves pending)
  uint64_t addr = 0; // barrier address (mma: accumulator TMEM address; st/ld_global, st_shared: the address, ~0 unknown)
  long long arg = 0; // wait: parity; init: count; expect_tx: bytes; bar_sync: id; tma: barrier address
  std::size_t stmt = 0;
  // mma only: A (shared-memory descriptor, or the TMEM address when a_tmem), B descriptor,
  // instruction descriptor, enable-input-d (accumulate)
  uint64_t a = 0, b = 0, idesc = 0;
  bool a_tmem = false, acc = false;
  // tma / tma_store: the box coordinates {c0, c1, c2, c3} (-1: unknown); tma_store: addr 0
  std::vector<long long> coords;
  uint64_t dst = ~0ull;  // tma: the shared-memory destination (~0: unknown)
  uint64_t src = ~0ull;  // cp_async: the global source (~0: unknown)
  long long count = 0;   // bar_sync: the thread count operand (0: none, every thread; -1: unknown)
  // st_shared with trace_data: the 32-bit words stored (kUnknownWord: unknown)
  std::vector<long long> words;
};
constexpr long long kUnknownWord = -(1ll << 40);

struct Val {
  uint64_t v = 0;
  bool known = false;
};

class Thread {
 public:
  Thread(const std::vector<sm100_ptx::Stmt>& st, const std::map<std::string, std::string>& macros) : st_(st), macros_(macros) {
    for (std::size_t i = 0; i < st_.size(); ++i)
      for (const std::string& l : st_[i].labels) label_[l] = i;
  }
  // Special registers and symbols.
  uint32_t tid = 0, ctaid[3] = {0, 0, 0}, nctaid[3] = {1, 1, 1};
  uint64_t smem_symbol = 0x400, param_symbol = 0x10000;
  // The dynamic shared-memory symbol's and the parameter block's names (the sm100a forward
  // kernels': fmha_dyn_smem and the KERNEL_PARAM macro; the sm90 decode kernel sets smem_dyn and
  // dparams).
  std::string smem_name = "fmha_dyn_smem", param_name;
  std::map<long long, uint64_t> params;  // .param byte offset -> value (32-bit fields as is)
  std::map<uint64_t, uint32_t> global;   // global memory words (address -> value) ld.global reads
  std::vector<TraceEv> trace;
  std::map<std::string, long> executed;  // opcode -> instructions executed (guard true)
  std::string error;
  int unknown_branches = 0;
  long max_steps = 20000000;
  // Off by default (the traces above unchanged). On (the sm90 decode plain rows' protocol model,
  // tests/sm90_decode_plain.h): ld.shared and ldmatrix traced as ld_shared (address); st.shared
  // with its words (vector stores kept for this thread's later loads too, vector loads read
  // them); bar.warp.sync as warp_sync; cp.async (non-bulk) as cp_async (addr: the destination,
  // arg: bytes) and cp.async.mbarrier.arrive as cp_async_arrive (addr: the barrier);
  // shfl.sync.idx as shfl (below), from the thread's own lane its own value.
  bool trace_data = false;
  // With trace_data: a word of shared memory this thread did not write (another role's, e.g.
  // the _ho rows' slot words) -> true and *word, or false (unknown); atom.global -> its result.
  std::function<bool(uint64_t addr, uint64_t* word)> shared_in;
  std::function<bool(uint64_t* value)> atom_in;
  // With trace_data: the value lane `lane` passes to this thread's shfl.sync.idx at statement
  // `stmt` (a warp-uniform broadcast, given from that lane's own trace), or false (unknown).
  std::function<bool(std::size_t stmt, int lane, uint64_t* value)> shfl_in;

  // A statement decoded once (its guard, opcode, operands and rule in exec); the statements'
  // decoding is made as they run and may be shared by the threads of the same statements (set
  // `decoding` to an earlier thread's before run(): one made for other statements or other
  // trace_data / atom_in is replaced).
  struct Decoded {
    bool ready = false;
    std::string guard, op;
    std::vector<std::string> o;
    int kind = -1;
    // An operand or a part of an address: its register's number (-1: not a register), or its
    // integer expression's value, or neither (get() resolves its text: symbols, special registers).
    struct Part {
      int rid = -1;
      char imm_known = 0;
      uint64_t imm = 0;
      std::string text;  // its text (get() resolves it); "" for an address without an offset part
    };
    std::vector<Part> opd;          // per operand
    std::vector<Part> abase, aoff;  // per operand "[base]" or "[base+offset]" (an address): its parts
  };
  struct Decoding {
    const void* st = nullptr;
    std::size_t n = 0;
    bool trace_data = false, atom = false;
    std::vector<Decoded> v;
    std::unordered_map<std::string, int> reg_id;  // register name -> its number (the thread's regs_)
    // the integer expressions get() evaluates outside the decoded operands and address parts
    // (vector lists' elements, TMA coordinates): text -> value, evaluated once
    std::unordered_map<std::string, Val> list_imm;
  };
  std::shared_ptr<Decoding> decoding = std::make_shared<Decoding>();

  // Runs from the first statement of the entry to ret/exit.
  bool run() {
    if (decoding->st != &st_ || decoding->n != st_.size() || decoding->trace_data != trace_data || decoding->atom != bool(atom_in)) {
      decoding = std::make_shared<Decoding>();
      decoding->st = &st_;
      decoding->n = st_.size();
      decoding->trace_data = trace_data;
      decoding->atom = bool(atom_in);
      decoding->v.resize(st_.size());
    }
    counts_.assign(st_.size(), 0);
    regs_.resize(decoding->reg_id.size());
    const bool ok = run_();
    for (std::size_t i = 0; i < counts_.size(); ++i)
      if (counts_[i] > 0) executed[decoding->v[i].op] += counts_[i];
    return ok;
  }

 private:
  bool run_() {
    std::size_t pc = 0;
    // Skip declarations (.reg ...) and anything before the first instruction.
    long steps = 0;
    while (pc < st_.size()) {
      if (++steps > max_steps) { error = "step limit (an endless loop?)"; return false; }
      const std::string& t = st_[pc].text;
      if (t.empty() || t[0] == '.') { ++pc; continue; }
      std::size_t next = pc + 1;
      if (!exec(pc, &next)) return false;
      if (next == static_cast<std::size_t>(-1)) return true;
      pc = next;
    }
    return true;
  }

  const std::vector<sm100_ptx::Stmt>& st_;
  const std::map<std::string, std::string>& macros_;
  std::map<std::string, std::size_t> label_;
  std::vector<Val> regs_;  // by register number (Decoding::reg_id)
  std::unordered_map<std::string, int> pred_;  // -1 unknown
  std::map<uint64_t, Val> smem_;     // 32-bit words written by this thread (and tcgen05.alloc)
  std::vector<long> counts_;         // per statement: the times it ran (summed into executed)

  static std::vector<std::string> operands(const std::string& b, std::string* op) { return sm100_ptx::operands(b, op); }
  static std::vector<std::string> list(const std::string& braced) { return sm100_ptx::reg_list(braced); }
  static int width(const std::string& op) {
    if (op.find(".u64") != std::string::npos || op.find(".s64") != std::string::npos || op.find(".b64") != std::string::npos) return 64;
    return 32;
  }
  static bool is_signed(const std::string& op) { return op.find(".s32") != std::string::npos || op.find(".s64") != std::string::npos; }
  static uint64_t trunc(uint64_t v, int w) { return w == 64 ? v : (v & 0xFFFFFFFFull); }
  static int64_t sext(uint64_t v, int w) { return w == 64 ? static_cast<int64_t>(v) : static_cast<int64_t>(static_cast<int32_t>(v & 0xFFFFFFFFu)); }

  // Value of an operand: register, special register, symbol, or integer expression.
  Val get(const std::string& o) {
    if (o.empty()) return {};
    if (o[0] == '%') {
      if (o.find('.') == std::string::npos) return regs_[static_cast<std::size_t>(reg(o))];  // (the special ones have a '.')
      if (o == "%tid.x") return {tid, true};
      if (o == "%ctaid.x") return {ctaid[0], true};
      if (o == "%ctaid.y") return {ctaid[1], true};
      if (o == "%ctaid.z") return {ctaid[2], true};
      if (o == "%nctaid.x") return {nctaid[0], true};
      if (o == "%nctaid.y") return {nctaid[1], true};
      if (o == "%nctaid.z") return {nctaid[2], true};
      return regs_[static_cast<std::size_t>(reg(o))];
    }
    if (o == smem_name) return {smem_symbol, true};
    if (!param_name.empty() && o == param_name) return {param_symbol, true};
    if (macros_.count("KERNEL_PARAM") && o == macros_.at("KERNEL_PARAM")) return {param_symbol, true};
    if (o.rfind("0f", 0) == 0 || o.rfind("0d", 0) == 0) return {};  // fp immediates: data
    auto hit = decoding->list_imm.find(o);
    if (hit != decoding->list_imm.end()) return hit->second;
    long long x = 0;
    std::string err;
    static const std::map<std::string, std::string> none;
    ptxfmha_test::IntExpr ev(none);
    const Val v = ev.eval(o, &x, &err) ? Val{static_cast<uint64_t>(x), true} : Val{};
    decoding->list_imm.emplace(o, v);
    return v;
  }
  // Address operand n of a decoded statement ([base] or [base+expr]) -> address
  Val addr(const Decoded& d, std::size_t n) {
    const Val b = part_val(d.abase.at(n));
    if (d.aoff.at(n).text.empty()) return b;
    const Val off = part_val(d.aoff[n]);
    if (!b.known || !off.known) return {};
    return {b.v + off.v, true};
  }
  Val part_val(const Decoded::Part& p) {
    if (p.rid >= 0) return regs_[static_cast<std::size_t>(p.rid)];
    if (p.imm_known) return {p.imm, true};
    return get(p.text);
  }
  // An operand or an address's part: a register's number, or an integer expression's value
  // (not the symbols get() resolves, nor fp immediates).
  Decoded::Part decode_part(const std::string& x) {
    Decoded::Part p;
    p.text = x;
    if (x.empty()) return p;
    if (x[0] == '%' && x.find('.') == std::string::npos) {
      p.rid = reg(x);
    } else if (x[0] != '%' && x[0] != '[' && x[0] != '{' && x != smem_name && x != param_name && x.rfind("0f", 0) != 0 &&
               x.rfind("0d", 0) != 0 && !(macros_.count("KERNEL_PARAM") && x == macros_.at("KERNEL_PARAM"))) {
      long long val = 0;
      std::string err;
      static const std::map<std::string, std::string> none;
      ptxfmha_test::IntExpr ev(none);
      if (ev.eval(x, &val, &err)) {
        p.imm_known = 1;
        p.imm = static_cast<uint64_t>(val);
      }
    }
    return p;
  }
  int getp(const std::string& p) {
    const bool neg = !p.empty() && p[0] == '!';
    auto it = neg ? pred_.find(p.substr(1)) : pred_.find(p);
    const int v = it == pred_.end() ? -1 : it->second;
    return v < 0 ? -1 : (neg ? 1 - v : v);
  }
  // a register's number (interned in the decoding, shared by its threads)
  int reg(const std::string& name) {
    auto it = decoding->reg_id.find(name);
    if (it == decoding->reg_id.end()) it = decoding->reg_id.emplace(name, static_cast<int>(decoding->reg_id.size())).first;
    if (regs_.size() <= static_cast<std::size_t>(it->second)) regs_.resize(static_cast<std::size_t>(it->second) + 1);
    return it->second;
  }
  void set(const std::string& d, Val v) { regs_[static_cast<std::size_t>(reg(d))] = v; }
  // trace_data: a shared word, this thread's own store or shared_in's
  Val word_at(uint64_t a) {
    auto it = smem_.find(a);
    if (it != smem_.end()) return it->second;
    uint64_t w = 0;
    if (shared_in && shared_in(a, &w)) return {w & 0xFFFFFFFFull, true};
    return {};
  }
  static TraceEv mk(const char* kind, uint64_t a, long long arg, std::size_t pc) {
    TraceEv e;
    e.kind = kind;
    e.addr = a;
    e.arg = arg;
    e.stmt = pc;
    return e;
  }
  void ev(const char* kind, uint64_t a, long long arg, std::size_t pc) { trace.push_back(mk(kind, a, arg, pc)); }

  // The rule of exec that handles an opcode (kArith: integer arithmetic), decided once per statement.
  enum Rule {
    kBra, kRet, kMbarInit, kWait, kExpectTx, kArrive, kCommit, kFenceBefore, kFenceAfter, kBarSync, kWgmmaWait, kWgmma,
    kWgmmaOther, kElect, kShfl, kTcMma, kTma, kStGlobal, kLdGlobal, kTcAlloc, kTcLd, kFenceProxy, kCpAsyncArrive, kCpAsync, kCpAsyncCommit, kCpAsyncWait,
    kWarpSync, kLdmatrix, kAtom, kNoEffect, kLdParam, kLdShared, kStShared, kSetp, kPredOp, kVoteAny, kSelp, kMov, kCvta, kCvt,
    kFloat, kArith = -1
  };
  int classify(const std::string& op) const {
    if (op == "bra" || op == "bra.uni") return kBra;
    if (op == "ret" || op == "exit") return kRet;
    if (op.rfind("mbarrier.init", 0) == 0) return kMbarInit;
    if (op.rfind("mbarrier.try_wait", 0) == 0 || op.rfind("mbarrier.test_wait", 0) == 0) return kWait;
    if (op.rfind("mbarrier.arrive.expect_tx", 0) == 0) return kExpectTx;
    if (op.rfind("mbarrier.arrive", 0) == 0) return kArrive;
    if (op.rfind("tcgen05.commit", 0) == 0) return kCommit;
    if (op == "tcgen05.fence::before_thread_sync") return kFenceBefore;
    if (op == "tcgen05.fence::after_thread_sync") return kFenceAfter;
    if (op == "bar.sync" || op == "barrier.sync" || op == "barrier.cta.sync") return kBarSync;
    if (op.rfind("wgmma.wait_group", 0) == 0) return kWgmmaWait;
    if (op.rfind("wgmma.mma_async", 0) == 0) return kWgmma;
    if (op.rfind("wgmma", 0) == 0 || op.rfind("griddepcontrol", 0) == 0) return kWgmmaOther;
    if (op.rfind("elect.sync", 0) == 0) return kElect;
    if (op.rfind("shfl.sync", 0) == 0) return kShfl;
    if (op.rfind("tcgen05.mma", 0) == 0) return kTcMma;
    if (op.rfind("cp.async.bulk.tensor", 0) == 0) return kTma;
    if (op.rfind("st.global", 0) == 0) return kStGlobal;
    if (op.rfind("ld.global", 0) == 0) return kLdGlobal;
    if (op.rfind("tcgen05.alloc", 0) == 0) return kTcAlloc;
    if (op.rfind("tcgen05.ld", 0) == 0) return kTcLd;
    if (op.rfind("fence.proxy.async", 0) == 0) return kFenceProxy;
    if (trace_data && op.rfind("cp.async.mbarrier.arrive", 0) == 0) return kCpAsyncArrive;
    if (trace_data && (op.rfind("cp.async.ca.", 0) == 0 || op.rfind("cp.async.cg.", 0) == 0)) return kCpAsync;
    if (trace_data && op == "cp.async.commit_group") return kCpAsyncCommit;
    if (trace_data && op == "cp.async.wait_group") return kCpAsyncWait;
    if (trace_data && op == "bar.warp.sync") return kWarpSync;
    if (trace_data && op.rfind("ldmatrix", 0) == 0) return kLdmatrix;
    if (op.rfind("atom", 0) == 0 && atom_in) return kAtom;
    if (op.rfind("tcgen05", 0) == 0 || op.rfind("fence", 0) == 0 || op.rfind("bar.", 0) == 0 || op.rfind("setmaxnreg", 0) == 0 ||
        op.rfind("cp.async", 0) == 0 || op.rfind("st.global", 0) == 0 || op.rfind("prefetch", 0) == 0 ||
        op.rfind("red.", 0) == 0)
      return kNoEffect;
    if (op.rfind("ld.param", 0) == 0) return kLdParam;
    if (op.rfind("ld.shared", 0) == 0) return kLdShared;
    if (op.rfind("st.shared", 0) == 0) return kStShared;
    if (op.rfind("setp.", 0) == 0) return kSetp;
    if (op == "and.pred" || op == "or.pred") return kPredOp;
    if (op.rfind("vote.sync.any.pred", 0) == 0) return kVoteAny;
    if (op.rfind("selp.", 0) == 0) return kSelp;
    if (op.rfind("mov.", 0) == 0) return kMov;
    if (op.rfind("cvta", 0) == 0) return kCvta;
    if (op.rfind("cvt.", 0) == 0) return kCvt;
    if (op.find(".f32") != std::string::npos || op.find(".f64") != std::string::npos || op.find(".f16") != std::string::npos ||
        op.find(".bf16") != std::string::npos || op.rfind("ex2", 0) == 0 || op.rfind("lg2", 0) == 0 || op.rfind("rcp", 0) == 0)
      return kFloat;
    return kArith;
  }
  Decoded& decoded(std::size_t pc) {
    Decoded& d = decoding->v[pc];
    if (d.ready) return d;
    std::string text = st_[pc].text;
    if (text[0] == '@') {
      const std::size_t sp = text.find(' ');
      d.guard = text.substr(1, sp - 1);
      text = sm100_ptx::trim(text.substr(sp + 1));
    }
    d.o = operands(text, &d.op);
    d.kind = classify(d.op);
    d.opd.assign(d.o.size(), Decoded::Part());
    d.abase.assign(d.o.size(), Decoded::Part());
    d.aoff.assign(d.o.size(), Decoded::Part());
    for (std::size_t k = 0; k < d.o.size(); ++k) {
      const std::string& x = d.o[k];
      d.opd[k] = decode_part(x);
      if (x.size() < 2 || x[0] != '[' || x.back() != ']') continue;
      const std::string in = x.substr(1, x.size() - 2);
      const std::size_t plus = in.find('+');
      d.abase[k] = decode_part(sm100_ptx::trim(in.substr(0, plus)));
      if (plus != std::string::npos) d.aoff[k] = decode_part(sm100_ptx::trim(in.substr(plus + 1)));
    }
    d.ready = true;
    return d;
  }

  bool exec(std::size_t pc, std::size_t* next) {
    Decoded& d = decoded(pc);
    if (!d.guard.empty()) {
      const int g = getp(d.guard);
      if (g < 0) {
        ++unknown_branches;
        return true;  // not executed
      }
      if (g == 0) return true;
    }
    const std::string& op = d.op;
    const std::vector<std::string>& o = d.o;
    const int k = d.kind;
    ++counts_[pc];
    // operand n's value (a register's, an integer's, else get's); a register operand set
    auto opv = [&](std::size_t n) -> Val { return part_val(d.opd.at(n)); };
    auto setv = [&](std::size_t n, Val v) {
      if (d.opd.at(n).rid >= 0) regs_[static_cast<std::size_t>(d.opd[n].rid)] = v;
      else set(o[n], v);
    };
    auto fail = [&](const std::string& why) {
      error = "statement " + std::to_string(pc) + " '" + st_[pc].text + "': " + why;
      return false;
    };
    // ---- control flow -----------------------------------------------------------------------
    if (k == kBra) {
      auto it = label_.find(o.at(0));
      if (it == label_.end()) return fail("unknown label");
      *next = it->second;
      return true;
    }
    if (k == kRet) {
      *next = static_cast<std::size_t>(-1);
      return true;
    }
    // ---- synchronisation (recorded) ---------------------------------------------------------
    if (k == kMbarInit) {
      const Val a = addr(d, 0), c = opv(1);
      if (!a.known || !c.known) return fail("unknown mbarrier.init operand");
      ev("init", a.v, static_cast<long long>(c.v), pc);
      return true;
    }
    if (k == kWait) {
      const Val a = addr(d, 1), par = opv(2);
      if (!a.known || !par.known) return fail("unknown try_wait operand");
      ev("wait", a.v, static_cast<long long>(par.v & 1), pc);
      pred_[o.at(0)] = 1;
      return true;
    }
    if (k == kExpectTx) {
      const Val a = addr(d, 1), b = opv(2);
      if (!a.known || !b.known) return fail("unknown expect_tx operand");
      ev("expect_tx", a.v, static_cast<long long>(b.v), pc);
      return true;
    }
    if (k == kArrive) {
      const Val a = addr(d, 1);
      if (!a.known) return fail("unknown arrive address");
      ev("arrive", a.v, 0, pc);
      return true;
    }
    if (k == kCommit) {
      const Val a = addr(d, 0);
      if (!a.known) return fail("unknown commit address");
      ev("commit", a.v, 0, pc);
      return true;
    }
    if (k == kFenceBefore) { ev("fence_before", 0, 0, pc); return true; }
    if (k == kFenceAfter) { ev("fence_after", 0, 0, pc); return true; }
    if (k == kBarSync) {
      const Val id = opv(0);
      if (!id.known) return fail("unknown barrier id");
      TraceEv e = mk("bar_sync", 0, static_cast<long long>(id.v), pc);
      if (o.size() > 1) {
        const Val n = opv(1);
        e.count = n.known ? static_cast<long long>(n.v) : -1;
      }
      trace.push_back(e);
      return true;
    }
    // wgmma (the sm90 decode kernels): the wait_group's count is recorded (a P V's read of its
    // copy ends there), the products and fences are not executed.
    if (k == kWgmmaWait) {
      const Val n = opv(0);
      if (!n.known) return fail("unknown wait_group count");
      ev("wgmma_wait", 0, static_cast<long long>(n.v), pc);
      return true;
    }
    if (k == kWgmma) {
      if (o.at(0)[0] == '{')
        for (const std::string& x : list(o.at(0))) set(x, {});
      ev("wgmma", 0, 0, pc);
      return true;
    }
    if (k == kWgmmaOther) return true;
    // elect.sync: lane 0 of the warp is the one elected (a thread model; which lane does not
    // matter to the kernels that use it)
    if (k == kElect) {
      const std::size_t bar = o.at(0).find('|');
      if (bar == std::string::npos) return fail("elect.sync without a predicate");
      pred_[o.at(0).substr(bar + 1)] = tid % 32 == 0 ? 1 : 0;
      return true;
    }
    if (k == kShfl) {  // another lane's value: unknown
      if (!trace_data || op.rfind("shfl.sync.idx", 0) != 0) {
        setv(0, {});
        return true;
      }
      // trace_data: shfl.sync.idx traced (addr: the source lane, ~0 unknown; arg: this lane's
      // value, kUnknownWord unknown); the own lane's value, or shfl_in's for another lane
      const Val lane = opv(2), own = opv(1);
      Val r;
      uint64_t v = 0;
      if (lane.known && (lane.v & 31) == tid % 32) r = own;
      else if (lane.known && shfl_in && shfl_in(pc, static_cast<int>(lane.v & 31), &v)) r = {v, true};
      ev("shfl", lane.known ? (lane.v & 31) : ~0ull, own.known ? static_cast<long long>(own.v) : kUnknownWord, pc);
      setv(0, r);
      return true;
    }
    if (k == kTcMma) {
      const Val acc_addr = addr(d, 0);
      if (!acc_addr.known) return fail("unknown MMA accumulator address");
      TraceEv e = mk("mma", acc_addr.v, 0, pc);
      e.a_tmem = o.at(1)[0] == '[';
      const Val a = e.a_tmem ? addr(d, 1) : opv(1), b = opv(2), id = opv(3);
      const int acc = getp(o.at(4));
      if (!a.known || !b.known || !id.known || acc < 0) return fail("unknown MMA operand");
      e.a = a.v;
      e.b = b.v;
      e.idesc = id.v;
      e.acc = acc == 1;
      trace.push_back(e);
      return true;
    }
    if (k == kTma) {
      const bool store = op.find("global.shared") != std::string::npos;
      // [tmap, {c0, c1, c2, c3}]: the coordinates
      const std::string& tm = o.at(store ? 0 : 1);
      std::vector<long long> coords;
      const std::size_t lb = tm.find('{'), rb = tm.find('}');
      if (lb != std::string::npos && rb != std::string::npos)
        for (const std::string& c : list(tm.substr(lb, rb - lb + 1))) {
          const Val x = get(c);
          coords.push_back(x.known ? static_cast<long long>(sext(x.v, 32)) : -1);
        }
      if (store) {
        TraceEv e = mk("tma_store", 0, 0, pc);
        e.coords = coords;
        trace.push_back(e);
        return true;
      }
      const Val b = addr(d, 2);
      if (!b.known) return fail("unknown TMA barrier");
      TraceEv e = mk("tma", b.v, 0, pc);
      e.coords = coords;
      const Val dst = addr(d, 0);
      if (dst.known) e.dst = dst.v;
      trace.push_back(e);
      return true;
    }
    if (k == kStGlobal) {
      const Val a = addr(d, 0);
      ev("st_global", a.known ? a.v : ~0ull, 0, pc);
      return true;
    }
    if (k == kLdGlobal) {
      const Val a = addr(d, 1);
      ev("ld_global", a.known ? a.v : ~0ull, 0, pc);  // device metadata reads (bounds checks)
      const bool word = op.find(".u32") != std::string::npos || op.find(".s32") != std::string::npos || op.find(".b32") != std::string::npos;
      auto it = a.known && word ? global.find(a.v) : global.end();
      if (o.at(0)[0] == '{') {
        for (const std::string& x : list(o.at(0))) set(x, {});
      } else {
        setv(0, it == global.end() ? Val{} : Val{it->second, true});
      }
      return true;
    }
    if (k == kTcAlloc) {
      const Val a = addr(d, 0);
      if (!a.known) return fail("unknown TMEM slot");
      smem_[a.v] = {0, true};  // TMEM base address 0: lane 0, column 0
      return true;
    }
    if (k == kTcLd) {
      for (const std::string& x : list(o.at(0))) set(x, {});
      return true;
    }
    if (k == kFenceProxy) { ev("fence_proxy", 0, 0, pc); return true; }
    if (k == kCpAsyncArrive) {
      const Val a = addr(d, 0);
      if (!a.known) return fail("unknown cp.async arrive address");
      ev("cp_async_arrive", a.v, 0, pc);
      return true;
    }
    if (k == kCpAsync) {  // [dst], [src], bytes(, src bytes)
      const Val a = addr(d, 0), g = addr(d, 1), n = opv(2);
      TraceEv e = mk("cp_async", a.known ? a.v : ~0ull, n.known ? static_cast<long long>(n.v) : -1, pc);
      if (g.known) e.src = g.v;
      trace.push_back(e);
      return true;
    }
    if (k == kCpAsyncCommit) { ev("cp_async_commit", 0, 0, pc); return true; }
    if (k == kCpAsyncWait) {
      const Val n = opv(0);
      if (!n.known) return fail("unknown cp.async.wait_group count");
      ev("cp_async_wait", 0, static_cast<long long>(n.v), pc);
      return true;
    }
    if (k == kWarpSync) { ev("warp_sync", 0, 0, pc); return true; }
    if (k == kLdmatrix) {
      const Val a = addr(d, 1);
      ev("ld_shared", a.known ? a.v : ~0ull, 0, pc);
      for (const std::string& x : list(o.at(0))) set(x, {});
      return true;
    }
    if (k == kAtom) {
      uint64_t v = 0;
      setv(0, atom_in(&v) ? Val{v, true} : Val{});
      return true;
    }
    // Everything else without a register result: no effect here.
    if (k == kNoEffect)
      return true;
    // ---- memory -----------------------------------------------------------------------------
    if (k == kLdParam) {
      const Val a = addr(d, 1);
      if (!a.known) return fail("unknown param address");
      auto it = params.find(static_cast<long long>(a.v - param_symbol));
      setv(0, it == params.end() ? Val{} : Val{it->second, true});
      return true;
    }
    if (k == kLdShared) {
      const Val a = addr(d, 1);
      if (trace_data) {
        ev("ld_shared", a.known ? a.v : ~0ull, 0, pc);
        const std::vector<std::string> dst = o.at(0)[0] == '{' ? list(o.at(0)) : std::vector<std::string>{o.at(0)};
        for (std::size_t k = 0; k < dst.size(); ++k) set(dst[k], a.known ? word_at(a.v + 4 * k) : Val{});
        return true;
      }
      auto it = a.known ? smem_.find(a.v) : smem_.end();
      setv(0, it == smem_.end() ? Val{} : it->second);
      return true;
    }
    if (k == kStShared) {
      const Val a = addr(d, 0);
      const long long bytes = op.find(".v4") != std::string::npos ? 16 : op.find(".v2") != std::string::npos ? 8 : 4;
      TraceEv e = mk("st_shared", a.known ? a.v : ~0ull, bytes, pc);
      if (trace_data) {
        const std::vector<std::string> src = o.at(1)[0] == '{' ? list(o.at(1)) : std::vector<std::string>{o.at(1)};
        for (std::size_t k = 0; k < src.size(); ++k) {
          const Val x = get(src[k]);
          e.words.push_back(x.known ? static_cast<long long>(x.v & 0xFFFFFFFFull) : kUnknownWord);
          if (a.known) smem_[a.v + 4 * k] = x;
        }
      } else if (a.known && o.at(1)[0] != '{') {
        smem_[a.v] = opv(1);
      }
      trace.push_back(e);
      return true;
    }
    // ---- predicates -------------------------------------------------------------------------
    if (k == kSetp) {
      const Val a = opv(1), b = opv(2);
      const bool f = op.find(".f32") != std::string::npos || op.find(".f64") != std::string::npos;
      // setp.CMP.BOOLOP.TYPE p, a, b, q: p = (a CMP b) BOOLOP q
      const bool band = op.find(".and.") != std::string::npos, bor = op.find(".or.") != std::string::npos;
      const int q = (band || bor) && o.size() > 3 ? getp(o.at(3)) : 1;
      if ((band || bor) && q >= 0 && ((band && q == 0) || (bor && q == 1))) { pred_[o.at(0)] = bor ? 1 : 0; return true; }
      if (f || !a.known || !b.known || q < 0) { pred_[o.at(0)] = -1; return true; }
      const int w = width(op);
      const bool s = is_signed(op);
      const int64_t x = s ? sext(a.v, w) : static_cast<int64_t>(trunc(a.v, w)), y = s ? sext(b.v, w) : static_cast<int64_t>(trunc(b.v, w));
      const uint64_t ux = trunc(a.v, w), uy = trunc(b.v, w);
      bool res = false;
      const std::string cmp = op.substr(5, op.find('.', 5) - 5);
      if (cmp == "eq") res = ux == uy;
      else if (cmp == "ne") res = ux != uy;
      else if (cmp == "lt") res = s ? x < y : ux < uy;
      else if (cmp == "le") res = s ? x <= y : ux <= uy;
      else if (cmp == "gt") res = s ? x > y : ux > uy;
      else if (cmp == "ge") res = s ? x >= y : ux >= uy;
      else return fail("comparison " + cmp);
      pred_[o.at(0)] = res ? 1 : 0;
      return true;
    }
    if (k == kPredOp) {
      const int a = getp(o.at(1)), b = getp(o.at(2));
      if (a < 0 || b < 0) pred_[o.at(0)] = -1;
      else pred_[o.at(0)] = op == "and.pred" ? (a && b) : (a || b);
      return true;
    }
    if (k == kVoteAny) {
      pred_[o.at(0)] = getp(o.at(1));
      return true;
    }
    if (k == kSelp) {
      const int p = getp(o.at(3));
      // The softmax's mask: selp.f32 %sX, %sX, -inf, p on a register of S: traced with the S
      // column (%sa0..%sa31 columns 0..31, %sb 32.., %sc 64.., %sd 96..) and p (1 = kept).
      if (o.at(2) == "0fFF800000" && o.at(0).size() >= 4 && o.at(0).rfind("%s", 0) == 0 && o.at(0)[2] >= 'a' && o.at(0)[2] <= 'd' &&
          std::isdigit(static_cast<unsigned char>(o.at(0)[3]))) {
        TraceEv e = mk("mask", static_cast<uint64_t>(32 * (o.at(0)[2] - 'a') + std::stoi(o.at(0).substr(3))), p, pc);
        trace.push_back(e);
      }
      if (p < 0) setv(0, {});
      else setv(0, opv(p ? 1 : 2));
      return true;
    }
    // ---- moves and conversions --------------------------------------------------------------
    if (k == kMov) {
      if (o.at(0)[0] == '{') {  // unpack
        const Val x = opv(1);
        const auto v = list(o.at(0));
        set(v.at(0), x.known ? Val{x.v & 0xFFFFFFFFull, true} : Val{});
        set(v.at(1), x.known ? Val{x.v >> 32, true} : Val{});
        return true;
      }
      if (o.at(1)[0] == '{') {  // pack
        const auto v = list(o.at(1));
        const Val lo = get(v.at(0)), hi = get(v.at(1));
        setv(0, lo.known && hi.known ? Val{(lo.v & 0xFFFFFFFFull) | (hi.v << 32), true} : Val{});
        return true;
      }
      if (op.find(".f32") != std::string::npos || op.find(".f64") != std::string::npos) { setv(0, {}); return true; }
      setv(0, opv(1));
      return true;
    }
    if (k == kCvta) {
      setv(0, opv(1));
      return true;
    }
    if (k == kCvt) {
      const Val a = opv(1);
      if (!a.known || op.find("f32") != std::string::npos || op.find("bf16") != std::string::npos) { setv(0, {}); return true; }
      // cvt.dtype.stype
      const std::size_t d1 = op.find('.', 4);
      const std::string dt = op.substr(4, d1 - 4), stp = op.substr(d1 + 1);
      uint64_t v = a.v;
      if (stp == "s32") v = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(a.v & 0xFFFFFFFFu)));
      else if (stp == "u32" || stp == "b32") v = a.v & 0xFFFFFFFFull;
      if (dt == "u32" || dt == "s32" || dt == "b32") v &= 0xFFFFFFFFull;
      setv(0, {v, true});
      return true;
    }
    // ---- arithmetic -------------------------------------------------------------------------
    const bool is_float = k == kFloat;
    if (is_float) {
      if (o.at(0)[0] == '{') {
        for (const std::string& x : list(o.at(0))) set(x, {});
      } else {
        setv(0, {});
      }
      return true;
    }
    int w = width(op);
    const bool wide = op.find(".wide.") != std::string::npos;  // mul.wide: 32 x 32 -> 64
    std::vector<Val> s;
    for (std::size_t n = 1; n < o.size(); ++n) s.push_back(opv(n));
    for (const Val& x : s)
      if (!x.known) { setv(0, {}); return true; }
    const std::string base = op.substr(0, op.find('.'));
    const bool sg = is_signed(op);
    uint64_t v = 0;
    if (wide) {
      for (Val& x : s) x.v = sg ? static_cast<uint64_t>(sext(x.v, 32)) : trunc(x.v, 32);
      w = 64;
    }
    auto A = [&](int i) { return s.at(static_cast<std::size_t>(i)).v; };
    if ((base == "add" || base == "sub") && op.find(".sat") != std::string::npos) {  // s32 only
      const int64_t x = sext(A(0), 32), y = sext(A(1), 32);
      const int64_t r = std::max<int64_t>(INT32_MIN, std::min<int64_t>(INT32_MAX, base == "add" ? x + y : x - y));
      v = static_cast<uint64_t>(r);
    } else if (base == "add") v = A(0) + A(1);
    else if (base == "sub") v = A(0) - A(1);
    else if (base == "mul") v = A(0) * A(1);
    else if (base == "mad") v = A(0) * A(1) + A(2);
    else if (base == "and") v = A(0) & A(1);
    else if (base == "or") v = A(0) | A(1);
    else if (base == "xor") v = A(0) ^ A(1);
    else if (base == "not") v = ~A(0);
    else if (base == "neg") v = static_cast<uint64_t>(-static_cast<int64_t>(A(0)));
    else if (base == "shl") v = A(1) >= static_cast<uint64_t>(w) ? 0 : trunc(A(0), w) << A(1);
    else if (base == "shr") {
      v = sg ? static_cast<uint64_t>(sext(A(0), w) >> std::min<uint64_t>(A(1), static_cast<uint64_t>(w - 1)))
             : (A(1) >= static_cast<uint64_t>(w) ? 0 : trunc(A(0), w) >> A(1));
    } else if (base == "div" || base == "rem") {
      if (trunc(A(1), w) == 0) return fail("division by zero");
      if (sg) {
        const int64_t x = sext(A(0), w), y = sext(A(1), w);
        v = static_cast<uint64_t>(base == "div" ? x / y : x % y);
      } else {
        v = base == "div" ? trunc(A(0), w) / trunc(A(1), w) : trunc(A(0), w) % trunc(A(1), w);
      }
    } else if (base == "min" || base == "max") {
      const bool mn = base == "min";
      if (sg) {
        const int64_t x = sext(A(0), w), y = sext(A(1), w);
        v = static_cast<uint64_t>(mn ? std::min(x, y) : std::max(x, y));
      } else {
        v = mn ? std::min(trunc(A(0), w), trunc(A(1), w)) : std::max(trunc(A(0), w), trunc(A(1), w));
      }
    } else {
      return fail("no interpretation of " + op);
    }
    setv(0, {trunc(v, w), true});
    return true;
  }
};

}  // namespace sm100_exec
