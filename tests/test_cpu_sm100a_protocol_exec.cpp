// "sm100a protocol model" (the PTX executed) and "sm100a protocol mutations": the second half of
// the CPU model checking of the sm100a forward kernels' synchronisation (the first half, the
// models and the extractor: tests/test_cpu_sm100a_protocol.cpp; shared helpers:
// tests/sm100_model/kernels.h).
//
//   * the PTX executed (ptx_exec.h): one thread of every role of the two-tile kernels run on the
//     CPU over several problem shapes; its sequence of mbarrier inits, waits with their parities,
//     arrives, expect_tx bytes, commits, fences, named barriers, MMA accumulators and TMA loads
//     equals the model program of that role for the same work tiles; edits of the executed PTX
//     change the trace;
//   * injected bugs, each of which the model must catch (the mutation table is printed).
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "ptx_util.h"
#include "sm100_model/design.h"
#include "sm100_model/explore.h"
#include "sm100_model/kernels.h"
#include "sm100_model/ptx_exec.h"
#include "sm100_model/ptx_roles.h"
#include "sm100_model/serial.h"
#include "sm100_model/trace.h"
#include "sm100_model/twotile.h"

using namespace sm100_kernels;

// ---- the PTX executed: each role's synchronisation sequence against the model's ---------------------
namespace {

struct Shape {
  int sq, sk, heads, causal;
};

// The KV tiles of every work tile CTA 0 of a 1-CTA grid walks (tiles in the kernel's order with
// head_group 1: m-block fastest, reversed for causal), written out here independently of the PTX.
std::vector<int> work_list(const Shape& s, int block_m, int block_n) {
  const int n_m = (s.sq + block_m - 1) / block_m, n_tot = (s.sk + block_n - 1) / block_n;
  std::vector<int> w;
  for (int pair = 0; pair < s.heads; ++pair)
    for (int i = 0; i < n_m; ++i) {
      const int m = s.causal ? n_m - 1 - i : i;
      int n = n_tot;
      if (s.causal) {
        const int last_row = std::min((m + 1) * block_m, s.sq) - 1, last_key = last_row + s.sk - s.sq;
        n = last_key < 0 ? 0 : std::min(n_tot, last_key / block_n + 1);
      }
      w.push_back(n);
    }
  return w;
}

std::map<long long, uint64_t> param_block(const SerialKernel& k, const Shape& s, int block_m) {
  const int n_m = (s.sq + block_m - 1) / block_m;
  std::map<long long, uint64_t> p;
  auto at = [&](const char* m) { return k.mv(m); };
  p[at("P_SEQLEN_Q")] = static_cast<uint64_t>(s.sq);
  p[at("P_SEQLEN_K")] = static_cast<uint64_t>(s.sk);
  p[at("P_HEADS_Q")] = static_cast<uint64_t>(s.heads);
  p[at("P_GQA_RATIO")] = 1;
  p[at("P_CAUSAL")] = static_cast<uint64_t>(s.causal);
  p[at("P_NUM_M_BLOCKS")] = static_cast<uint64_t>(n_m);
  p[at("P_BATCH")] = 1;
  p[at("P_TOTAL_TILES")] = static_cast<uint64_t>(n_m * s.heads);
  p[at("P_HEAD_GROUP")] = 1;
  p[at("P_TILE_COUNTER")] = 0;
  p[at("P_LSE_PTR")] = 0x7000000;
  p[at("P_O_PTR")] = 0x8000000;
  p[at("P_O_BATCH_STRIDE")] = 0;
  p[at("P_O_SEQ_STRIDE")] = 0;
  p[at("P_O_HEAD_STRIDE")] = 0;
  p[at("P_SCALE_LOG2")] = 0x3e000000;
  // The EXT rows (issue 14) with every feature off, as a plain call on them (the window's
  // unbounded sides; causal comes from P_CAUSAL as in the plain kernels' order).
  p[at("PA_FEATURES")] = 0;
  p[at("PA_BLOCK_TABLE")] = 0;  // contiguous K/V (the paged boxes and the V tail fix stay off)
  p[at("PA_SINK_LOGITS")] = 0;
  p[at("PA_ALIBI_SLOPES")] = 0;
  p[at("PA_WINDOW_LEFT")] = 0x7FFFFFFF;
  p[at("PA_WINDOW_RIGHT1")] = s.causal ? 1 : 0x7FFFFFFF;
  return p;
}

}  // namespace

TEST_CASE("sm100a protocol model: the PTX of every role, executed on the CPU, issues the model's synchronisation sequence") {
  const auto two = twotile_kernels();
  REQUIRE(two.size() == 6);  // the EXT rows with every feature off: the plain rows' traces
  long events = 0;
  int runs = 0;
  for (const SerialKernel& k : two) {
    INFO(k.name);
    const std::string text = read_preprocessed(k.name, k.path);
    const std::vector<sm100_ptx::Stmt> st = sm100_ptx::parse_statements(text);
    const int T = static_cast<int>(k.mv("KERNEL_Q_TILES"));
    const int bm = static_cast<int>(k.mv("KERNEL_BLOCK_M")), bn = static_cast<int>(k.mv("KERNEL_BLOCK_N"));
    // Barrier addresses -> the model's names (the shared-memory window starts 1024-aligned).
    const uint64_t smem = 0x400;
    auto mvk = [&](const char* m) { return k.mv(m); };
    const std::map<uint64_t, std::string> bar_name = md::twotile_barrier_names(mvk, smem);
    auto acc_addr = [&](int acc) { return md::twotile_acc_addr(mvk, acc); };
    // Shapes: non-causal (every work tile the same), causal with rows that see no key (tiles of
    // 0 KV tiles, tiles of 1, of several), two heads (work tiles of two (head, batch) pairs).
    const Shape shapes[] = {{600, 300, 1, 0}, {700, 200, 1, 1}, {300, 500, 2, 1}, {129, 1, 2, 0}};
    for (const Shape& sh : shapes) {
      const std::vector<int> work = work_list(sh, bm, bn);
      std::string wl;
      for (int x : work) wl += std::to_string(x) + " ";
      INFO("sq " << sh.sq << " sk " << sh.sk << " heads " << sh.heads << (sh.causal ? " causal" : "") << ": work tiles {" << wl << "}");
      md::TwoTileParams p = twotile_kernel_params(k, work);
      p.rescale = [](int, int, int, int) { return true; };
      const md::Model m = md::twotile_model(p);
      struct RoleThread {
        const char* program;
        long long thread;
      };
      std::vector<RoleThread> roles = {{"mma", 32 * k.mv("WARP_MMA")}, {"tma", 32 * k.mv("WARP_TMA")},
                                       {"correction.w0", 128 * T}};
      if (T == 2) {
        roles.push_back({"softmax0.w0", 0});
        roles.push_back({"softmax1.w0", 128});
      } else {
        roles.push_back({"softmax.w0", 0});
      }
      for (const RoleThread& rt : roles) {
        INFO("role " << rt.program << ", thread " << rt.thread);
        const md::Program* pr = nullptr;
        for (const md::Program& x : m.roles)
          if (x.role == rt.program) pr = &x;
        REQUIRE(pr != nullptr);
        sm100_exec::Thread th(st, k.macros);
        th.tid = static_cast<uint32_t>(rt.thread);
        th.smem_symbol = smem;
        th.params = param_block(k, sh, bm);
        const bool ok = th.run();
        REQUIRE_MESSAGE(ok, th.error);
        const std::vector<std::string> got = md::trace_lines(th.trace, bar_name);
        const std::vector<std::string> want = model_lines(m, *pr, acc_addr);
        std::size_t diff = 0;
        while (diff < got.size() && diff < want.size() && got[diff] == want[diff]) ++diff;
        std::string ctx;
        for (std::size_t i = diff > 3 ? diff - 3 : 0; i < diff + 3 && i < std::max(got.size(), want.size()); ++i)
          ctx += "\n  #" + std::to_string(i) + " PTX: " + (i < got.size() ? got[i] : "(end)") + " | model: " + (i < want.size() ? want[i] : "(end)");
        CHECK_MESSAGE((got == want), k.name << " " << rt.program << ": the PTX's sequence (" << got.size() << " events) differs from the model's ("
                                            << want.size() << ") at #" << diff << ctx);
        // The only data-dependent branch: the correction's lazy-rescale vote (alpha != 1 in a row of
        // the warp), which issues no synchronisation either way.
        if (std::string(rt.program).rfind("correction", 0) != 0) CHECK(th.unknown_branches == 0);
        events += static_cast<long>(got.size());
        ++runs;
      }
    }
  }
  // The comparison can fail: edits of one instruction of the d128 kernel's PTX, each in a role the
  // trace then no longer matches (a parity flip, a phase off by one, a counter not advanced, an
  // MMA half into the wrong columns).
  {
    const SerialKernel* k = nullptr;
    for (const SerialKernel& x : two)
      if (x.name == "fmha_fwd_d128_sm100a") k = &x;
    REQUIRE(k != nullptr);
    const std::vector<sm100_ptx::Stmt> st0 = sm100_ptx::parse_statements(read_preprocessed(k->name, k->path));
    const Shape sh = {700, 200, 1, 1};
    const int bm = static_cast<int>(k->mv("KERNEL_BLOCK_M")), bn = static_cast<int>(k->mv("KERNEL_BLOCK_N"));
    md::TwoTileParams p = twotile_kernel_params(*k, work_list(sh, bm, bn));
    p.rescale = [](int, int, int, int) { return true; };
    const md::Model m = md::twotile_model(p);
    struct Edit { const char* what; const char* prefix; int occurrence; const char* program; long long thread; };
    const Edit edits[] = {
        {"TMA: the q_empty parity not flipped", "xor.b32 %q_par, %q_par, 1", 0, "tma", 32 * k->mv("WARP_TMA")},
        {"correction: o_full waited one phase late", "sub.u32 %t1, %t1, 1", 0, "correction.w0", 256},
        {"softmax: the statistics counter not advanced", "add.u32 %stc, %stc, 1", 0, "softmax0.w0", 0},
        {"MMA: the upper S half into the lower half's columns", "add.u32 %tm_d, %tm_d,", 1, "mma", 32 * k->mv("WARP_MMA")},
    };
    const uint64_t smem = 0x400;
    for (const Edit& e : edits) {
      INFO(e.what);
      std::vector<sm100_ptx::Stmt> st = st0;
      int seen = 0;
      bool done = false;
      for (sm100_ptx::Stmt& x : st)
        if (sm100_ptx::body(x.text).rfind(e.prefix, 0) == 0 && seen++ == e.occurrence) {
          x.text = "mov.u32 %t3, %t3";  // the instruction gone (a no-op in its place keeps the labels)
          done = true;
          break;
        }
      REQUIRE_MESSAGE(done, "no '" << e.prefix << "' in the kernel");
      sm100_exec::Thread th(st, k->macros);
      th.tid = static_cast<uint32_t>(e.thread);
      th.smem_symbol = smem;
      th.params = param_block(*k, sh, bm);
      th.max_steps = 2000000;
      const bool ok = th.run();
      const md::Program* pr = nullptr;
      for (const md::Program& x : m.roles)
        if (x.role == e.program) pr = &x;
      REQUIRE(pr != nullptr);
      // Compare the barrier/MMA targets and parities as above (names by address).
      std::vector<std::string> got;
      for (const sm100_exec::TraceEv& t : th.trace)
        got.push_back(t.kind + " " + std::to_string(t.addr) + " " + std::to_string(t.arg));
      sm100_exec::Thread ref(st0, k->macros);
      ref.tid = th.tid;
      ref.smem_symbol = smem;
      ref.params = th.params;
      REQUIRE(ref.run());
      std::vector<std::string> want;
      for (const sm100_exec::TraceEv& t : ref.trace)
        want.push_back(t.kind + " " + std::to_string(t.addr) + " " + std::to_string(t.arg));
      CHECK_MESSAGE((!ok || got != want), "the edit '" << e.what << "' left the executed trace unchanged");
    }
  }
  MESSAGE("PTX executed: " << runs << " role threads of the " << two.size() << " two-tile kernels over 4 shapes, " << events
                           << " synchronisation events (mbarrier init/wait parity/arrive/expect_tx bytes, commits, fences, named "
                              "barriers, MMA accumulators, TMA loads) equal to the protocol model's, in order");
}

namespace {
// The mutation test's work tiles {4, 0, 3} as an EXT call with the V tail fix on both tiles with
// KV tiles, the first paged in two box rows (its last tile one).
void fix_params(md::TwoTileParams* p) {
  p->v_land = true;
  p->v_fix = {1, 0, 1};
  p->paged = {1, 0, 0};
  p->row_boxes = {2, 0, 0};
  p->last_row_boxes = {1, 0, 0};
}
}  // namespace

TEST_CASE("sm100a protocol mutations: every injected bug is caught") {
  struct Mut {
    const char* name;
    bool serial;
    int head_dim;  // two-tile design row
    bool v_fix = false;  // an EXT call with the V tail fix (seqused_k / paged K/V)
  };
  const Mut muts[] = {
      {"softmax waits s_full with the wrong parity", false, 128},
      {"one softmax warp misses its p_full arrival", false, 128},
      {"commit of S1 to s_full[0]", false, 128},
      {"softmax arrives p_full before storing P", false, 128},
      {"correction rescales O without waiting for PV", false, 256},
      {"softmax omits tcgen05.fence::after_thread_sync", false, 64},
      {"TMA reuses a ring slot one tile early", false, 128},
      {"TMA skips the q_empty wait of the next work tile", false, 64},
      {"S upper half issued without waiting for PV (FA4 order)", false, 128},
      {"correction releases O before rescaling it", false, 256},
      {"softmax omits tcgen05.fence::before_thread_sync before p_full", false, 128},
      {"expect_tx counts one box too few", false, 256},
      {"correction rewrites the O staging before the TMA store read it", false, 128},
      {"MMA skips the o_ready wait", false, 64},
      {"TMA skips the drain", false, 128},
      {"serial: S_(j+2) issued without waiting for PV_j", true, 128},
      // The V tail fix of the EXT rows (features.ptxh KV_ISSUE_EXT): each step of it removed or
      // moved.
      {"TMA releases kv_full before zeroing V", false, 128, true},
      {"TMA zeroes V without waiting for v_land", false, 64, true},
      {"TMA omits fence.proxy.async after zeroing V", false, 256, true},
      {"V tail loaded onto kv_full (no v_land)", false, 128, true},
  };
  const int kMaxRuns = 3000;
  std::string table = "\n  mutation | caught by | interleavings until caught | seed\n  ---|---|---|---\n";
  int missed = 0;
  const auto ks = serial_kernels();
  for (const Mut& mu : muts) {
    md::Model m;
    if (mu.serial) {
      REQUIRE(!ks.empty());
      const SerialKernel* k = &ks.front();
      for (const SerialKernel& x : ks)
        if (x.mv("KERNEL_HEAD_DIM") == mu.head_dim && x.mv("KERNEL_P_IN_SMEM") == 0) k = &x;
      md::SerialParams p = serial_params(*k, 6, static_cast<int>(k->mv("KERNEL_STAGES")));
      p.mutation = mu.name;
      m = md::serial_model(p);
    } else {
      const sm100_design::FwdDesign* d = &sm100_design::kD128;
      for (const sm100_design::FwdDesign* x : sm100_design::kDesigns)
        if (x->head_dim == mu.head_dim) d = x;
      md::TwoTileParams p = md::twotile_params(*d, {4, 0, 3});
      p.rescale = twotile_pattern(0);
      p.mutation = mu.name;
      if (mu.v_fix) fix_params(&p);
      m = md::twotile_model(p);
    }
    // The unmutated model with the same parameters must be clean (so the catch is the bug's).
    const RunStats r = run_random(m, base_seed() ^ 0xB06ull, kMaxRuns);
    char seed[32];
    std::snprintf(seed, sizeof seed, "0x%llx", (unsigned long long)r.seed);
    if (r.v.found) {
      table += std::string("  ") + mu.name + " | " + r.v.kind + ": " + r.v.msg.substr(0, 150) + " | " +
               std::to_string(r.runs) + " | " + seed + "\n";
    } else {
      ++missed;
      table += std::string("  ") + mu.name + " | NOT CAUGHT | " + std::to_string(r.runs) + " | -\n";
    }
    CHECK_MESSAGE(r.v.found, "mutation not caught in " << kMaxRuns << " interleavings: " << mu.name);
  }
  MESSAGE("protocol mutation table (" << (sizeof(muts) / sizeof(muts[0])) << " mutations, " << missed << " missed):" << table);
  // The same parameters without a mutation are clean.
  md::TwoTileParams p = md::twotile_params(sm100_design::kD128, {4, 0, 3});
  p.rescale = twotile_pattern(0);
  const RunStats clean = run_random(md::twotile_model(p), base_seed() ^ 0xB06ull, 200);
  CHECK_MESSAGE(!clean.v.found, describe(md::twotile_model(p), clean));
  for (const sm100_design::FwdDesign* d : sm100_design::kDesigns) {  // and with the V tail fix
    md::TwoTileParams q = md::twotile_params(*d, {4, 0, 3});
    q.rescale = twotile_pattern(0);
    fix_params(&q);
    const RunStats c2 = run_random(md::twotile_model(q), base_seed() ^ 0xB06ull, 300);
    CHECK_MESSAGE(!c2.v.found, "hd" << d->head_dim << " V tail fix: " << describe(md::twotile_model(q), c2));
  }
}
