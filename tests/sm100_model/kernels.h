// The sm100a forward kernels' macro facts and the helpers the protocol model tests share
// (tests/test_cpu_sm100a_protocol.cpp: the models and the extractor;
// tests/test_cpu_sm100a_protocol_exec.cpp: the PTX executed on the CPU and the mutations):
// the kernels from their preprocessed macros, the model parameters read from them, seeded random
// runs of the explorer and the rescale patterns.
#ifndef PTXFMHA_TESTS_SM100_MODEL_KERNELS_H
#define PTXFMHA_TESTS_SM100_MODEL_KERNELS_H

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "../ptx_util.h"
#include "explore.h"
#include "serial.h"
#include "twotile.h"

namespace sm100_kernels {

namespace md = sm100_model;

inline uint64_t base_seed() {
  const char* s = std::getenv("PTXFMHA_PROTOCOL_SEED");
  return s && *s ? std::strtoull(s, nullptr, 0) : 0x5EED0013ull;
}

// A forward kernel with its macros (ptx_util.h).
using SerialKernel = ptxfmha_test::KernelMacros;

inline std::vector<SerialKernel> serial_kernels() {
  std::vector<SerialKernel> out;
  for (const SerialKernel& k : ptxfmha_test::sm100a_fwd_kernels())
    if (!k.macros.count("KERNEL_Q_TILES")) out.push_back(k);
  return out;
}
inline std::vector<SerialKernel> twotile_kernels() {
  std::vector<SerialKernel> out;
  for (const SerialKernel& k : ptxfmha_test::sm100a_fwd_kernels())
    if (k.macros.count("KERNEL_Q_TILES")) out.push_back(k);
  return out;
}

// The two-tile model of a kernel, from its own macros (Q tiles, P placement, ring slots, TMA
// boxes); the arrival counts and transaction bytes it hard-wires are checked against the
// kernel's by twotile_kernel_facts_match.
inline md::TwoTileParams twotile_kernel_params(const SerialKernel& k, std::vector<int> work) {
  md::TwoTileParams p;
  p.q_tiles = static_cast<int>(k.mv("KERNEL_Q_TILES"));
  p.p_aliases_s = k.mv("P_ALIAS_S") != 0;
  p.kv_slots = static_cast<int>(k.mv("KERNEL_KV_SLOTS"));
  const int d = static_cast<int>(k.mv("KERNEL_HEAD_DIM"));
  p.q_boxes = d / 64;
  p.q_box_bytes = static_cast<int>(k.mv("Q_BOX_BYTES"));
  p.kv_boxes = d / 64;
  p.kv_box_bytes = static_cast<int>(k.mv("KV_BOX_BYTES"));
  p.threads = static_cast<int>(k.mv("KERNEL_THREADS"));
  p.work = std::move(work);
  p.v_land = k.mv("KERNEL_VARIANT") == 1;  // the EXT rows initialise v_land (the V tail fix)
  return p;
}

inline md::SerialParams serial_params(const SerialKernel& k, int n, int stages) {
  md::SerialParams p;
  p.n_tiles = n;
  p.stages = stages;
  p.p_in_smem = k.mv("KERNEL_P_IN_SMEM") != 0;
  const int d = static_cast<int>(k.mv("KERNEL_HEAD_DIM"));
  p.q_boxes = d / 64;
  p.kv_boxes = d / 64;
  p.q_box_bytes = static_cast<int>(k.mv("Q_BOX_BYTES"));
  p.q_tx_bytes = static_cast<int>(k.mv("Q_TX_BYTES"));
  p.kv_box_bytes = static_cast<int>(k.mv("KV_BOX_BYTES"));
  p.kv_tx_bytes = static_cast<int>(k.mv("KV_TX_BYTES"));
  p.p_full_arrivals = static_cast<int>(k.mv("P_FULL_ARRIVALS"));
  p.threads = static_cast<int>(k.mv("KERNEL_THREADS"));
  return p;
}

// Runs `runs` random schedules; returns the first violation (with its seed) or none.
struct RunStats {
  long runs = 0, steps = 0;
  md::Violation v;
  uint64_t seed = 0;
};
inline RunStats run_random(const md::Model& m, uint64_t seed0, int runs) {
  md::Explorer ex(m);
  RunStats r;
  for (int i = 0; i < runs; ++i) {
    const uint64_t seed = seed0 + static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
    long steps = 0;
    md::Violation v = ex.run_random(seed, &steps);
    ++r.runs;
    r.steps += steps;
    if (v.found) {
      r.v = v;
      r.seed = seed;
      break;
    }
  }
  return r;
}

inline std::string describe(const md::Model& m, const RunStats& r) {
  return m.name + ": " + r.v.kind + " after " + std::to_string(r.runs) + " interleaving(s), step " +
         std::to_string(r.v.step) + ", seed 0x" + [&] { char b[32]; std::snprintf(b, sizeof b, "%llx", (unsigned long long)r.seed); return std::string(b); }() +
         ": " + r.v.msg;
}

// Correction patterns (data-dependent rescale branch).
inline std::function<bool(int, int)> serial_pattern(int k) {
  switch (k % 4) {
    case 0: return [](int, int) { return true; };
    case 1: return [](int, int) { return false; };
    case 2: return [](int j, int w) { return (j + w) % 2 == 0; };
    default: return [](int j, int w) { return j % 3 == w % 3; };
  }
}
inline std::function<bool(int, int, int, int)> twotile_pattern(int k) {
  switch (k % 4) {
    case 0: return [](int, int, int, int) { return true; };
    case 1: return [](int, int, int, int) { return false; };
    case 2: return [](int wk, int j, int t, int w) { return (wk + j + t + w) % 2 == 0; };
    default: return [](int, int j, int t, int w) { return (j * 3 + t + w) % 5 == 0; };
  }
}

inline std::string read_preprocessed(const std::string& name, const std::string& src_path) {
  bool ok = false;
  const std::string path = ptxfmha_test::preprocessed_path("sm100a", name);
  std::string text = ptxfmha_test::read_text_file(path, &ok);
  if (ok) return text;
  MESSAGE(path << " missing (`make cubins` writes it): preprocessing " << src_path << " with the Makefile's cpp flags");
  int rc = 0;
  text = ptxfmha_test::run_command("cpp -x assembler-with-cpp -P -undef -nostdinc -I" +
                                       ptxfmha_test::shell_quote(ptxfmha_test::source_dir() + "/ptx/include") + " " +
                                       ptxfmha_test::shell_quote(src_path) + " 2>&1",
                                   &rc);
  REQUIRE(rc == 0);
  return text;
}

}  // namespace sm100_kernels

#endif
