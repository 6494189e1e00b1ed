// Model programs as lines, in the form the PTX trace of tests/sm100_model/ptx_exec.h is printed
// ("wait q_full[0] parity 1", "commit s_full[1]", "mma tmem 256", ...), so that a role's executed
// PTX and its model program compare as two lists of strings (tests/test_cpu_sm100a_protocol.cpp,
// tests/test_cpu_sm100a_features.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "model.h"
#include "ptx_exec.h"

namespace sm100_model {

// "kind target arg" lines of a model program (the kinds the PTX trace records).
inline std::vector<std::string> model_lines(const Model& m, const Program& pr, const std::function<uint64_t(int acc)>& acc_addr) {
  std::vector<std::string> out;
  for (const Event& e : pr.ev) {
    const std::string b = e.bar >= 0 ? m.bars[static_cast<std::size_t>(e.bar)].name : "";
    switch (e.kind) {
      case Ev::Init: out.push_back("init " + b + " " + std::to_string(e.count)); break;
      case Ev::Wait: out.push_back("wait " + b + " parity " + std::to_string(e.parity)); break;
      case Ev::Arrive: out.push_back("arrive " + b); break;
      case Ev::ExpectTxArrive: out.push_back("expect_tx " + b + " " + std::to_string(e.count)); break;
      case Ev::Commit: out.push_back("commit " + b); break;
      case Ev::FenceBefore: out.push_back("fence_before"); break;
      case Ev::FenceAfter: out.push_back("fence_after"); break;
      case Ev::BarSync: out.push_back("bar_sync " + std::to_string(e.named)); break;
      case Ev::Mma: out.push_back("mma tmem " + std::to_string(acc_addr(e.acc))); break;
      case Ev::TmaLoad: out.push_back("tma " + b); break;
      default: break;
    }
  }
  return out;
}

// The two-tile kernels' barrier addresses -> the model's names ("q_full[0]", ...), with the
// shared-memory window at smem (1024-aligned), from the kernel's macros (mv: macro -> value).
inline std::map<uint64_t, std::string> twotile_barrier_names(const std::function<long long(const char*)>& mv, uint64_t smem) {
  const int T = static_cast<int>(mv("KERNEL_Q_TILES")), R = static_cast<int>(mv("KERNEL_KV_SLOTS"));
  const uint64_t barb = smem + static_cast<uint64_t>(mv("SMEM_BAR_OFF"));
  std::map<uint64_t, std::string> bar_name;
  auto name_all = [&](const char* macro, const char* name, int count) {
    for (int i = 0; i < count; ++i)
      bar_name[barb + static_cast<uint64_t>(mv(macro)) + 8u * static_cast<uint64_t>(i)] = std::string(name) + "[" + std::to_string(i) + "]";
  };
  name_all("BAR_Q_FULL", "q_full", T);
  name_all("BAR_Q_EMPTY", "q_empty", T);
  name_all("BAR_KV_FULL", "kv_full", R);
  name_all("BAR_KV_EMPTY", "kv_empty", R);
  name_all("BAR_S_FULL", "s_full", 2);
  name_all("BAR_P_FULL", "p_full", 2);
  name_all("BAR_O_READY", "o_ready", T);
  name_all("BAR_O_FULL", "o_full", T);
  name_all("BAR_STATS_FULL", "stats_full", T);
  name_all("BAR_STATS_EMPTY", "stats_empty", T);
  bar_name[barb + static_cast<uint64_t>(mv("BAR_V_LAND"))] = "v_land";  // EXT rows only
  return bar_name;
}
// The model's accumulator index (twotile.h: S_b half h = 2b + h, O_t = 4 + t) -> TMEM column.
inline uint64_t twotile_acc_addr(const std::function<long long(const char*)>& mv, int acc) {
  if (acc >= 4) return static_cast<uint64_t>(mv("TMEM_COL_O0") + (acc - 4) * mv("O_BUF_COLS"));
  return static_cast<uint64_t>(mv("TMEM_COL_S0") + (acc / 2) * mv("S_BUF_COLS") + (acc % 2) * mv("KERNEL_QK_N"));
}
// An executed thread's synchronisation trace as model_lines prints a program (k-steps of one
// GEMM as one "mma" line; TMA stores and st.global left out).
inline std::vector<std::string> trace_lines(const std::vector<sm100_exec::TraceEv>& trace, const std::map<uint64_t, std::string>& bar_name) {
  std::vector<std::string> got;
  uint64_t last_mma = ~0ull;
  auto nm = [&](uint64_t a) { auto it = bar_name.find(a); return it == bar_name.end() ? "?@" + std::to_string(a) : it->second; };
  for (const sm100_exec::TraceEv& e : trace) {
    if (e.kind != "mma") last_mma = ~0ull;
    if (e.kind == "init") got.push_back("init " + nm(e.addr) + " " + std::to_string(e.arg));
    else if (e.kind == "wait") got.push_back("wait " + nm(e.addr) + " parity " + std::to_string(e.arg));
    else if (e.kind == "arrive") got.push_back("arrive " + nm(e.addr));
    else if (e.kind == "expect_tx") got.push_back("expect_tx " + nm(e.addr) + " " + std::to_string(e.arg));
    else if (e.kind == "commit") got.push_back("commit " + nm(e.addr));
    else if (e.kind == "fence_before" || e.kind == "fence_after") got.push_back(e.kind);
    else if (e.kind == "bar_sync") got.push_back("bar_sync " + std::to_string(e.arg));
    else if (e.kind == "tma") got.push_back("tma " + nm(e.addr));
    else if (e.kind == "mma") {
      if (e.addr != last_mma) got.push_back("mma tmem " + std::to_string(e.addr));
      last_mma = e.addr;
    }
  }
  return got;
}

}  // namespace sm100_model
