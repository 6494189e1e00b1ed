// CPU model of the synchronisation of the sm100a forward kernels (tcgen05 + TMEM + mbarrier).
//
// A kernel's protocol is written as a set of roles (TMA warp, MMA thread, softmax warp(s),
// correction warp(s), ...), each a straight-line program of events (loops unrolled for a given
// number of KV tiles, work tiles and ring stages). The explorer (explore.h) interleaves the roles
// and the completions of their asynchronous operations in every order it is asked to (random,
// seeded; or exhaustively for tiny cases) and checks, at every event:
//
//   * mbarriers: arrival counts and phases, arrive.expect_tx / complete_tx byte counts,
//     try_wait.parity passes iff the barrier's current phase parity differs from the operand
//     (a fresh barrier passes parity 1 at once). Each wait also names the completion it means to
//     observe (ghost), so a wait that passes one phase late or early ("lapped") is reported.
//   * buffers (shared memory or TMEM column ranges, "regions"): every read names the data it
//     expects (a tag, e.g. S of tile 5), and finds it written and complete; no write while an
//     asynchronous reader or writer of the region may still be in flight.
//   * asynchronous operations: TMA loads and stores, tcgen05.mma, tcgen05.commit complete as
//     separate events, delayed arbitrarily after issue. tcgen05.mma are ordered only against
//     earlier MMAs of the same issuing thread and the same accumulator (PTX ISA, tcgen05
//     "pipelined" pairs); a tcgen05.commit arrives once every tcgen05 operation its thread issued
//     before it has completed (all of them, not only the last).
//   * fences: after a thread-sync acquire (mbarrier wait, bar.sync) a thread must execute
//     tcgen05.fence::after_thread_sync before its next tcgen05 operation; after a tcgen05
//     operation it must execute tcgen05.fence::before_thread_sync before its next thread-sync
//     release (mbarrier arrive, bar.sync).
//   * TMEM is used only between tcgen05.alloc and tcgen05.dealloc; dealloc and CTA exit find
//     no asynchronous operation or commit arrival in flight.
//   * progress: every role finishes (no deadlock).
//
// Each event also carries its static place in the kernel (section + site), from which the
// extractor test counts the model's instructions per role and section and compares them with the
// preprocessed PTX (tests/test_cpu_sm100a_protocol.cpp).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sm100_model {

enum class Ev : uint8_t {
  Init,          // mbarrier.init [bar], count
  Arrive,        // mbarrier.arrive [bar] (count = arrivals this event stands for)
  ExpectTxArrive,// mbarrier.arrive.expect_tx [bar], bytes (one arrival)
  Wait,          // mbarrier.try_wait.parity [bar], parity (retry loop)
  TmaLoad,       // cp.async.bulk.tensor global -> shared, complete_tx on [bar]; writes regions
  TmaStore,      // cp.async.bulk.tensor shared -> global (bulk group); reads regions
  BulkWaitRead,  // cp.async.bulk.wait_group.read 0: every TMA store of this role has read smem
  Mma,           // tcgen05.mma (all K-steps of one GEMM): reads operands, writes accumulator
  Commit,        // tcgen05.commit -> mbarrier arrive (one) when all prior tcgen05 ops completed
  TcLd,          // tcgen05.ld + tcgen05.wait::ld (reads TMEM regions)
  TcSt,          // tcgen05.st + tcgen05.wait::st (writes TMEM regions)
  SmemWrite,     // st.shared (generic proxy)
  SmemRead,      // ld.shared
  FenceBefore,   // tcgen05.fence::before_thread_sync
  FenceAfter,    // tcgen05.fence::after_thread_sync
  FenceProxy,    // fence.proxy.async.shared::cta (generic-proxy smem writes -> async proxy)
  BarSync,       // bar.sync id, threads (this role contributes `count` threads)
  BarArrive,     // bar.arrive id, threads
  Alloc,         // tcgen05.alloc (+ relinquish)
  Dealloc,       // tcgen05.dealloc
};

inline const char* ev_name(Ev e) {
  switch (e) {
    case Ev::Init: return "mbarrier.init";
    case Ev::Arrive: return "mbarrier.arrive";
    case Ev::ExpectTxArrive: return "mbarrier.arrive.expect_tx";
    case Ev::Wait: return "mbarrier.try_wait.parity";
    case Ev::TmaLoad: return "TMA load";
    case Ev::TmaStore: return "TMA store";
    case Ev::BulkWaitRead: return "cp.async.bulk.wait_group.read";
    case Ev::Mma: return "tcgen05.mma";
    case Ev::Commit: return "tcgen05.commit";
    case Ev::TcLd: return "tcgen05.ld";
    case Ev::TcSt: return "tcgen05.st";
    case Ev::SmemWrite: return "st.shared";
    case Ev::SmemRead: return "ld.shared";
    case Ev::FenceBefore: return "tcgen05.fence::before_thread_sync";
    case Ev::FenceAfter: return "tcgen05.fence::after_thread_sync";
    case Ev::FenceProxy: return "fence.proxy.async.shared::cta";
    case Ev::BarSync: return "bar.sync";
    case Ev::BarArrive: return "bar.arrive";
    case Ev::Alloc: return "tcgen05.alloc";
    case Ev::Dealloc: return "tcgen05.dealloc";
  }
  return "?";
}

// What a tcgen05 operation is for the fence rules.
inline bool is_tcgen05(Ev e) {
  return e == Ev::Mma || e == Ev::Commit || e == Ev::TcLd || e == Ev::TcSt || e == Ev::Alloc ||
         e == Ev::Dealloc;
}

// Data tags: what a region holds. kind << 40 | work tile << 20 | index.
// T_VZ: a V tile with its rows past the sequence's keys zeroed (the EXT rows' V tail fix)
enum TagKind : int64_t { T_NONE = 0, T_Q = 1, T_K, T_V, T_S, T_P, T_O, T_STATS, T_OSTG, T_ALPHA, T_VZ };
inline int64_t tag(int64_t kind, int64_t work, int64_t index) { return (kind << 40) | (work << 20) | index; }
inline std::string tag_str(int64_t t) {
  static const char* names[] = {"none", "Q", "K", "V", "S", "P", "O", "stats", "Ostage", "alpha", "Vzero"};
  const int64_t k = t >> 40;
  if (t == 0) return "nothing";
  std::string s = (k >= 0 && k < 11) ? names[k] : "?";
  return s + "(w" + std::to_string((t >> 20) & 0xFFFFF) + ",j" + std::to_string(t & 0xFFFFF) + ")";
}

struct Access {
  int region;
  int64_t tag;         // read: the data expected; write: the data it leaves
  int64_t prior = -1;  // accumulating write (tcgen05.mma with enable-input-d): the data it adds onto
};

struct Event {
  Ev kind{};
  int bar = -1;          // mbarrier
  int count = 0;         // Init: arrival count; Arrive: arrivals; ExpectTxArrive/TmaLoad: bytes; Bar*: threads
  int parity = 0;        // Wait
  int ghost = -1;        // Wait: completed phases the wait means to observe when it passes (-1: unchecked)
  int named = -1;        // BarSync / BarArrive: barrier id
  int total = 0;         // BarSync / BarArrive: threads that participate in the barrier
  int acc = -1;          // Mma: accumulator id (pipelined only against the same accumulator)
  std::vector<Access> reads, writes;
  const char* section = "";  // static structure (extractor): role section, e.g. "pre", "L1"
  const char* site = "";     // static site inside the section (distinct instruction)
  std::string what;          // human readable, for reports
};

struct Program {
  std::string role;
  std::vector<Event> ev;
};

struct Barrier {
  std::string name;
  int count = 1;
};

struct Region {
  std::string name;
  bool tmem = false;
  bool async_read = false;  // shared memory read by the async proxy (tcgen05.mma, TMA store)
};

struct Model {
  std::string name;
  std::vector<Barrier> bars;
  std::vector<Region> regions;
  std::vector<Program> roles;
  // Named barriers used with bar.sync (id -> threads), checked for consistent totals.
  int add_bar(const std::string& n, int count) { bars.push_back({n, count}); return static_cast<int>(bars.size()) - 1; }
  int add_region(const std::string& n, bool tmem, bool async_read = false) {
    regions.push_back({n, tmem, async_read});
    return static_cast<int>(regions.size()) - 1;
  }
};

// ---- helpers to write programs --------------------------------------------------------------
struct Emitter {
  Program* p;
  const char* section = "";
  Event& push(Ev k, const char* site, std::string what) {
    Event e;
    e.kind = k;
    e.section = section;
    e.site = site;
    e.what = std::move(what);
    p->ev.push_back(std::move(e));
    return p->ev.back();
  }
  void init(int bar, int count, const char* site) { push(Ev::Init, site, "init").bar = bar; p->ev.back().count = count; }
  void arrive(int bar, int arrivals, const char* site, std::string what = "") {
    Event& e = push(Ev::Arrive, site, std::move(what));
    e.bar = bar;
    e.count = arrivals;
  }
  void expect_tx(int bar, int bytes, const char* site) {
    Event& e = push(Ev::ExpectTxArrive, site, "");
    e.bar = bar;
    e.count = bytes;
  }
  void wait(int bar, int parity, int ghost, const char* site, std::string what = "") {
    Event& e = push(Ev::Wait, site, std::move(what));
    e.bar = bar;
    e.parity = parity & 1;
    e.ghost = ghost;
  }
  void tma_load(int bar, int bytes, std::vector<Access> w, const char* site, std::string what = "") {
    Event& e = push(Ev::TmaLoad, site, std::move(what));
    e.bar = bar;
    e.count = bytes;
    e.writes = std::move(w);
  }
  void tma_store(std::vector<Access> r, const char* site) { push(Ev::TmaStore, site, "").reads = std::move(r); }
  void bulk_wait_read(const char* site) { push(Ev::BulkWaitRead, site, ""); }
  void mma(int acc, std::vector<Access> r, std::vector<Access> w, const char* site, std::string what) {
    Event& e = push(Ev::Mma, site, std::move(what));
    e.acc = acc;
    e.reads = std::move(r);
    e.writes = std::move(w);
  }
  void commit(int bar, const char* site, std::string what = "") { push(Ev::Commit, site, std::move(what)).bar = bar; }
  void tc_ld(std::vector<Access> r, const char* site, std::string what = "") { push(Ev::TcLd, site, std::move(what)).reads = std::move(r); }
  void tc_st(std::vector<Access> w, const char* site, std::string what = "") { push(Ev::TcSt, site, std::move(what)).writes = std::move(w); }
  void smem_write(std::vector<Access> w, const char* site) { push(Ev::SmemWrite, site, "").writes = std::move(w); }
  void smem_read(std::vector<Access> r, const char* site) { push(Ev::SmemRead, site, "").reads = std::move(r); }
  void fence_before(const char* site) { push(Ev::FenceBefore, site, ""); }
  void fence_after(const char* site) { push(Ev::FenceAfter, site, ""); }
  void fence_proxy(const char* site) { push(Ev::FenceProxy, site, ""); }
  void bar_sync(int id, int threads, int total, const char* site) {
    Event& e = push(Ev::BarSync, site, "");
    e.named = id;
    e.count = threads;
    e.total = total;
  }
  void bar_arrive(int id, int threads, int total, const char* site) {
    Event& e = push(Ev::BarArrive, site, "");
    e.named = id;
    e.count = threads;
    e.total = total;
  }
  void alloc(const char* site) { push(Ev::Alloc, site, ""); }
  void dealloc(const char* site) { push(Ev::Dealloc, site, ""); }
};

}  // namespace sm100_model
