// "sm100a protocol model" and "sm100a protocol mutations": CPU model checking of the
// synchronisation of the sm100a forward kernels (tests/sm100_model/: model.h the event model,
// explore.h the interleaving explorer, serial.h today's kernels, twotile.h the new design of
// docs/sm100_fwd_design.md, ptx_roles.h the PTX side of the extractor).
//
//   * today's kernels (ptx/sm100a/fmha_fwd_*: serial protocol) with their own macro facts
//     (stages, TMA boxes and bytes, arrival counts), 0..8 KV tiles and every stage count 1..4;
//   * the new design for head dims 64, 128, 256, over lists of work tiles (persistent CTA, tiles
//     with 0 KV tiles included), ring sizes 2..8;
//   * thousands of seeded random interleavings (PTXFMHA_PROTOCOL_SEED replays; the seed of a
//     failing run is printed) plus exhaustive searches of tiny configurations;
//   * the extractor: each role's synchronisation instructions counted in the preprocessed PTX
//     (build/ptx/sm100a/*.ptx) per prologue / loop body / epilogue, against the model's events;
//   * the PTX executed (ptx_exec.h): one thread of every role of the two-tile kernels run on the
//     CPU over several problem shapes; its sequence of mbarrier inits, waits with their parities,
//     arrives, expect_tx bytes, commits, fences, named barriers, MMA accumulators and TMA loads
//     equals the model program of that role for the same work tiles;
//   * injected bugs, each of which the model must catch (the mutation table is printed).
#include <doctest/doctest.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <map>
#include <string>
#include <vector>

#include "ptx_util.h"
#include "sm100_model/design.h"
#include "sm100_model/explore.h"
#include "sm100_model/ptx_exec.h"
#include "sm100_model/ptx_roles.h"
#include "sm100_model/serial.h"
#include "sm100_model/trace.h"
#include "sm100_model/twotile.h"

namespace {

namespace md = sm100_model;

uint64_t base_seed() {
  const char* s = std::getenv("PTXFMHA_PROTOCOL_SEED");
  return s && *s ? std::strtoull(s, nullptr, 0) : 0x5EED0013ull;
}

struct SerialKernel {
  std::string name, path;
  std::map<std::string, std::string> macros;
  long long mv(const char* m) const { return ptxfmha_test::macro_value(macros, m, name); }
};

// The sm100a forward kernels with their macros, once: the serial family (no KERNEL_Q_TILES:
// serial.h) and the two-tile family (KERNEL_Q_TILES: twotile.h).
const std::vector<SerialKernel>& sm100_fwd_kernels() {
  static const std::vector<SerialKernel> ks = [] {
    std::vector<SerialKernel> out;
    for (const ptxfmha_test::PtxSource& src : ptxfmha_test::ptx_sources()) {
      if (src.arch != "sm100a" || src.name.rfind("fmha_fwd_", 0) != 0) continue;
      bool ok = false;
      std::string err;
      SerialKernel k{src.name, src.path, ptxfmha_test::cpp_macros(src.path, &ok, &err)};
      REQUIRE_MESSAGE(ok, err);
      out.push_back(std::move(k));
    }
    return out;
  }();
  return ks;
}
std::vector<SerialKernel> serial_kernels() {
  std::vector<SerialKernel> out;
  for (const SerialKernel& k : sm100_fwd_kernels())
    if (!k.macros.count("KERNEL_Q_TILES")) out.push_back(k);
  return out;
}
std::vector<SerialKernel> twotile_kernels() {
  std::vector<SerialKernel> out;
  for (const SerialKernel& k : sm100_fwd_kernels())
    if (k.macros.count("KERNEL_Q_TILES")) out.push_back(k);
  return out;
}

// The two-tile model of a kernel, from its own macros (Q tiles, P placement, ring slots, TMA
// boxes); the arrival counts and transaction bytes it hard-wires are checked against the
// kernel's by twotile_kernel_facts_match.
md::TwoTileParams twotile_kernel_params(const SerialKernel& k, std::vector<int> work) {
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
// The extractor's work tiles {3, 0, 1, 2} on an EXT row: every site of KV_ISSUE_EXT present (a
// contiguous tile with the V tail fix, paged tiles of two box rows, one with the fix).
void ext_sites(md::TwoTileParams* p) {
  if (!p->v_land) return;
  p->v_fix = {1, 0, 0, 1};
  p->paged = {0, 0, 1, 1};
  p->row_boxes = {0, 0, 2, 2};
  p->last_row_boxes = {0, 0, 1, 1};
}
void twotile_kernel_facts_match(const SerialKernel& k) {
  INFO(k.name);
  const int d = static_cast<int>(k.mv("KERNEL_HEAD_DIM"));
  CHECK(k.mv("P_FULL_ARRIVALS") == 128);   // twotile.h: p_full 128
  CHECK(k.mv("O_READY_ARRIVALS") == 128);  // o_ready 128
  CHECK(k.mv("STATS_ARRIVALS") == 128);    // stats_full / stats_empty 128
  CHECK(k.mv("EPI_THREADS") == 128);       // named barrier 1: the correction warpgroup
  CHECK(k.mv("BAR_EPI") == sm100_design::kNamedBarEpilogue);
  CHECK(k.mv("BAR_CTA") == 0);
  CHECK(k.mv("SMEM_Q_TILE_BYTES") == (d / 64) * k.mv("Q_BOX_BYTES"));  // expect_tx of q_full
  CHECK(k.mv("KV_SLOT_BYTES") == (d / 64) * k.mv("KV_BOX_BYTES"));     // expect_tx of kv_full
}

md::SerialParams serial_params(const SerialKernel& k, int n, int stages) {
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
RunStats run_random(const md::Model& m, uint64_t seed0, int runs) {
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

std::string describe(const md::Model& m, const RunStats& r) {
  return m.name + ": " + r.v.kind + " after " + std::to_string(r.runs) + " interleaving(s), step " +
         std::to_string(r.v.step) + ", seed 0x" + [&] { char b[32]; std::snprintf(b, sizeof b, "%llx", (unsigned long long)r.seed); return std::string(b); }() +
         ": " + r.v.msg;
}

// Correction patterns (data-dependent rescale branch).
std::function<bool(int, int)> serial_pattern(int k) {
  switch (k % 4) {
    case 0: return [](int, int) { return true; };
    case 1: return [](int, int) { return false; };
    case 2: return [](int j, int w) { return (j + w) % 2 == 0; };
    default: return [](int j, int w) { return j % 3 == w % 3; };
  }
}
std::function<bool(int, int, int, int)> twotile_pattern(int k) {
  switch (k % 4) {
    case 0: return [](int, int, int, int) { return true; };
    case 1: return [](int, int, int, int) { return false; };
    case 2: return [](int wk, int j, int t, int w) { return (wk + j + t + w) % 2 == 0; };
    default: return [](int, int j, int t, int w) { return (j * 3 + t + w) % 5 == 0; };
  }
}

// The PTX region a model role runs in: "softmax.w2" and "softmax1.w0" -> "softmax" (both softmax
// warpgroups run one code path), "correction.w1" -> "correction".
std::string model_region_role(const std::string& role) {
  std::string r = role.substr(0, role.find('.'));
  while (!r.empty() && std::isdigit(static_cast<unsigned char>(r.back()))) r.pop_back();
  return r;
}

// Static counts of a model: distinct sites per (region, section, kind).
sm100_ptx::Counts model_counts(const md::Model& m, const std::string& region) {
  std::map<std::string, std::map<std::string, std::set<std::string>>> sites;
  for (const md::Program& p : m.roles) {
    const std::string role = model_region_role(p.role);
    for (const md::Event& e : p.ev) {
      const std::string sec = e.section;
      const std::string reg = (sec == "setup" || sec == "teardown") ? sec : role;
      if (reg != region) continue;
      std::string k;
      switch (e.kind) {
        case md::Ev::Init: k = "init"; break;
        case md::Ev::Arrive: k = "arrive"; break;
        case md::Ev::ExpectTxArrive: k = "expect_tx"; break;
        case md::Ev::Wait: k = "try_wait"; break;
        case md::Ev::Commit: k = "commit"; break;
        case md::Ev::FenceBefore: k = "fence_before"; break;
        case md::Ev::FenceAfter: k = "fence_after"; break;
        case md::Ev::BarSync: k = "bar_sync"; break;
        case md::Ev::BarArrive: k = "bar_arrive"; break;
        case md::Ev::Mma: k = "mma"; break;
        case md::Ev::TmaLoad: case md::Ev::TmaStore: k = "tma"; break;
        case md::Ev::Alloc: k = "alloc"; break;
        case md::Ev::Dealloc: k = "dealloc"; break;
        default: break;
      }
      if (k.empty()) continue;
      sites[sec][k].insert(e.site);
    }
  }
  sm100_ptx::Counts c;
  for (const auto& s : sites)
    for (const auto& k : s.second) c[s.first][k.first] = static_cast<int>(k.second.size());
  return c;
}

std::string counts_str(const sm100_ptx::Counts& c) {
  std::string s;
  for (const auto& sec : c) {
    s += " " + sec.first + "{";
    bool first = true;
    for (const auto& k : sec.second) {
      s += (first ? "" : " ") + k.first + "=" + std::to_string(k.second);
      first = false;
    }
    s += "}";
  }
  return s.empty() ? " (none)" : s;
}

std::string read_preprocessed(const std::string& name, const std::string& src_path) {
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

// ---- edits of the PTX the extractor comparison must notice ------------------------------------
// Applied to the parsed statements: the first instruction of `kind` in (region, section) is
// removed, doubled, or moved to the start of its region.
struct ExtractorEdit {
  const char* what, *region, *section, *kind;
  enum Op { Remove, Double, MoveToStart } op;
};
const std::vector<ExtractorEdit>& extractor_edits(bool two_tile) {
  static const std::vector<ExtractorEdit> serial = {
      {"the MMA's fence::after_thread_sync of the main loop removed", "mma", "L2", "fence_after", ExtractorEdit::Remove},
      {"a commit of the MMA's main loop removed", "mma", "L2", "commit", ExtractorEdit::Remove},
      {"a softmax arrive doubled", "softmax", "L1", "arrive", ExtractorEdit::Double},
      {"the loader's first wait moved out of its loop", "load", "L1", "try_wait", ExtractorEdit::MoveToStart},
      {"the setup's fence::before_thread_sync removed", "setup", "setup", "fence_before", ExtractorEdit::Remove},
      {"the teardown's bar.sync doubled", "teardown", "teardown", "bar_sync", ExtractorEdit::Double},
      {"the MMA's first commit moved out of the prologue loop", "mma", "L1", "commit", ExtractorEdit::MoveToStart},
  };
  static const std::vector<ExtractorEdit> two = {
      {"the MMA's fence::after_thread_sync of the main loop removed", "mma", "L1.L2", "fence_after", ExtractorEdit::Remove},
      {"a commit of the MMA's main loop removed", "mma", "L1.L2", "commit", ExtractorEdit::Remove},
      {"the MMA's first commit moved out of the prologue loop", "mma", "L1.L1", "commit", ExtractorEdit::MoveToStart},
      {"a softmax arrive doubled", "softmax", "L1.L1", "arrive", ExtractorEdit::Double},
      {"the softmax's first fence::before_thread_sync removed", "softmax", "L1.L1", "fence_before", ExtractorEdit::Remove},
      {"the correction's o_full wait moved out of its loop", "correction", "L1.L1", "try_wait", ExtractorEdit::MoveToStart},
      {"the epilogue's second named barrier removed", "correction", "L1.L2", "bar_sync", ExtractorEdit::Remove},
      {"the TMA's ring wait moved out of its loop", "tma", "L1.L1", "try_wait", ExtractorEdit::MoveToStart},
      {"the TMA's drain wait removed", "tma", "L2", "try_wait", ExtractorEdit::Remove},
      {"the setup's fence::before_thread_sync removed", "setup", "setup", "fence_before", ExtractorEdit::Remove},
      {"the teardown's bar.sync doubled", "teardown", "teardown", "bar_sync", ExtractorEdit::Double},
  };
  return two_tile ? two : serial;
}

// Empty when every region's counts equal the model's, else the first difference.
std::string extractor_diff(const sm100_ptx::Layout& L, const md::Model& m) {
  if (!L.error.empty()) return "layout: " + L.error;
  for (const sm100_ptx::Region& r : L.regions) {
    const sm100_ptx::Counts ptx = sm100_ptx::count_sections(L, r), mod = model_counts(m, r.role);
    if (ptx != mod) return r.role + ": PTX" + counts_str(ptx) + " vs model" + counts_str(mod);
  }
  return "";
}

std::string extractor_mutant_differs(const std::string& text, const std::map<std::string, std::string>& entries, const md::Model& m,
                                     const ExtractorEdit& e, bool* applied) {
  const sm100_ptx::Layout L = sm100_ptx::split_roles_stmts(sm100_ptx::parse_statements(text), entries);
  *applied = false;
  REQUIRE_MESSAGE(extractor_diff(L, m).empty(), "the unedited kernel must match: " << extractor_diff(L, m));
  for (const sm100_ptx::Region& r : L.regions) {
    if (r.role != e.region) continue;
    const std::vector<std::string> sec = sm100_ptx::section_names(L, r);
    for (std::size_t i = r.begin; i < r.end; ++i) {
      if (sm100_ptx::kind_of(L.st[i].text) != e.kind || sec[i] != e.section) continue;
      std::vector<sm100_ptx::Stmt> st = L.st;
      sm100_ptx::Stmt s = st[i];
      s.labels.clear();
      if (e.op == ExtractorEdit::Remove) {
        st[i].text = "nop.removed;";
      } else if (e.op == ExtractorEdit::Double) {
        st.insert(st.begin() + static_cast<std::ptrdiff_t>(i) + 1, s);
      } else {
        st[i].text = "nop.moved;";
        st.insert(st.begin() + static_cast<std::ptrdiff_t>(r.begin) + 1, s);
      }
      *applied = true;
      return extractor_diff(sm100_ptx::split_roles_stmts(st, entries), m);
    }
  }
  return "";
}

}  // namespace

TEST_CASE("sm100a protocol model: today's serial kernels (random and exhaustive interleavings)") {
  const auto ks = serial_kernels();
  REQUIRE(!ks.empty());
  long total_runs = 0, total_steps = 0, exhaustive_states = 0;
  int configs = 0;
  uint64_t seed = base_seed();
  for (const SerialKernel& k : ks) {
    INFO(k.name);
    const int kstages = static_cast<int>(k.mv("KERNEL_STAGES"));
    for (int stages : {kstages, 1, 2, 3, 4}) {
      for (int n = 0; n <= 8; ++n) {
        if (stages != kstages && n % 2 == 1 && n > 1) continue;  // other stage counts: a subset of lengths
        md::SerialParams p = serial_params(k, n, stages);
        p.correct = serial_pattern(n + stages);
        const md::Model m = md::serial_model(p);
        const int runs = stages == kstages ? 40 : 16;
        const RunStats r = run_random(m, seed, runs);
        seed += 0x1000;
        total_runs += r.runs;
        total_steps += r.steps;
        ++configs;
        CHECK_MESSAGE(!r.v.found, k.name << " n=" << n << " stages=" << stages << ": " << describe(m, r));
      }
    }
    // Exhaustive: the softmax warpgroup as one role, tiny lengths.
    for (int stages : {1, 2}) {
      for (int n = 0; n <= 3; ++n) {
        md::SerialParams p = serial_params(k, n, stages);
        p.softmax_warps = 1;
        p.q_boxes = p.kv_boxes = 1;
        p.q_box_bytes = p.q_tx_bytes;
        p.kv_box_bytes = p.kv_tx_bytes;
        p.correct = serial_pattern(n);
        const md::Model m = md::serial_model(p);
        md::Explorer ex(m);
        const auto res = ex.run_exhaustive(400000);
        exhaustive_states += res.states;
        CHECK_MESSAGE(!res.v.found, k.name << " exhaustive n=" << n << " stages=" << stages << ": " << res.v.kind << ": " << res.v.msg);
        CHECK_MESSAGE(res.complete, k.name << " exhaustive n=" << n << " stages=" << stages << " stopped at the state cap");
      }
    }
  }
  MESSAGE("serial protocol: " << ks.size() << " kernels, " << configs << " configurations, " << total_runs
                              << " random interleavings (" << total_steps << " steps), exhaustive search over "
                              << exhaustive_states << " states: no deadlock, no hazard");
}

TEST_CASE("sm100a protocol model: the two-tile design (random and exhaustive interleavings)") {
  long total_runs = 0, total_steps = 0, exhaustive_states = 0;
  int configs = 0;
  uint64_t seed = base_seed() ^ 0xD35160ull;
  // The last two: the tile ranges of the feature variants (issue 14): empty bands and zero-length
  // sequences between band-limited tiles, and a run of empty tiles at the start.
  const std::vector<std::vector<int>> works = {{8}, {1}, {2, 0, 3}, {0}, {5, 8}, {3, 1, 0, 2}, {9}, {0, 0, 2, 0, 1, 0, 0, 3}, {0, 0, 0, 1}};
  for (const sm100_design::FwdDesign* d : sm100_design::kDesigns) {
    INFO("head dim " << d->head_dim);
    for (int slots : {d->kv_slots, 2, 3, 8}) {
      for (std::size_t wi = 0; wi < works.size(); ++wi) {
        md::TwoTileParams p = md::twotile_params(*d, works[wi], slots);
        p.rescale = twotile_pattern(static_cast<int>(wi) + slots);
        // Every other configuration as an EXT call with seqused_k / paged K/V: the V tail fix on
        // alternate work tiles (v_land, st.shared zeros, fence.proxy.async, kv_full by the TMA
        // thread), pages of BLOCK_N / 4 rows with the last tile's boxes cut to 1 .. 4.
        if ((wi + static_cast<std::size_t>(slots)) % 2 == 1) {
          p.v_land = true;
          for (std::size_t i = 0; i < works[wi].size(); ++i) {
            p.v_fix.push_back(i % 2 == 0 ? 1 : 0);
            p.paged.push_back(i % 3 == 2 ? 0 : 1);
            p.row_boxes.push_back(i % 3 == 2 ? 0 : 4);
            p.last_row_boxes.push_back(i % 3 == 2 ? 0 : 1 + static_cast<int>(i % 4));
          }
        }
        const md::Model m = md::twotile_model(p);
        const int runs = slots == d->kv_slots ? 40 : 12;
        const RunStats r = run_random(m, seed, runs);
        seed += 0x1000;
        total_runs += r.runs;
        total_steps += r.steps;
        ++configs;
        std::string wl;
        for (int x : works[wi]) wl += std::to_string(x) + " ";
        CHECK_MESSAGE(!r.v.found, "hd" << d->head_dim << " slots=" << slots << " work tiles {" << wl << "}" << (p.v_land ? " (V tail fix, paged)" : "")
                                       << ": " << describe(m, r));
      }
    }
    // Exhaustive: one role per warpgroup, one box per tile, a single work tile of 1 KV tile, and
    // at head dim 256 (one Q tile) also 2 KV tiles.
    std::vector<std::vector<int>> tiny = {{1}};
    if (d->q_tiles == 1) tiny.push_back({2});
    for (const auto& w : tiny) {
      md::TwoTileParams p = md::twotile_params(*d, w, 2);
      p.warps_per_wg = 1;
      p.q_boxes = p.kv_boxes = 1;
      p.q_box_bytes *= d->head_dim / 64;
      p.kv_box_bytes *= d->head_dim / 64;
      p.rescale = twotile_pattern(0);
      const md::Model m = md::twotile_model(p);
      md::Explorer ex(m);
      const auto res = ex.run_exhaustive(1500000);
      exhaustive_states += res.states;
      CHECK_MESSAGE(!res.v.found, "hd" << d->head_dim << " exhaustive: " << res.v.kind << ": " << res.v.msg);
      MESSAGE("hd" << d->head_dim << " exhaustive, work tiles {" << w[0] << "}: " << res.states << " states"
                   << std::string(res.complete ? " (complete)" : " (state cap reached)"));
    }
  }
  MESSAGE("two-tile design protocol: " << configs << " configurations, " << total_runs << " random interleavings ("
                                       << total_steps << " steps), exhaustive " << exhaustive_states
                                       << " states: no deadlock, no hazard");
}

TEST_CASE("sm100a protocol model: extractor, each role's synchronisation in the preprocessed PTX equals the model's") {
  const auto& ks = sm100_fwd_kernels();
  REQUIRE(!ks.empty());
  int compared = 0, serial = 0, twotile = 0;
  for (const SerialKernel& k : ks) {
    INFO(k.name);
    const bool two = k.macros.count("KERNEL_Q_TILES") != 0;
    const std::string text = read_preprocessed(k.name, k.path);
    const sm100_ptx::Layout L = sm100_ptx::split_roles(text, k.macros);
    REQUIRE_MESSAGE(L.error.empty(), L.error);
    // The model with every site present. Serial: 4 KV tiles, each correction branch taken.
    // Two-tile: work tiles of 3, 0, 1 and 2 KV tiles (the main loop's S, a tile without KV tiles,
    // the prologue as the last S), every rescale taken.
    md::Model m;
    if (two) {
      twotile_kernel_facts_match(k);
      md::TwoTileParams p = twotile_kernel_params(k, {3, 0, 1, 2});
      p.rescale = [](int, int, int, int) { return true; };
      ext_sites(&p);
      m = md::twotile_model(p);
      ++twotile;
    } else {
      m = md::serial_model(serial_params(k, 4, static_cast<int>(k.mv("KERNEL_STAGES"))));
      ++serial;
    }
    std::set<std::string> roles_seen;
    for (const sm100_ptx::Region& r : L.regions) {
      INFO("region " << r.role << " at '" << r.label << "'");
      roles_seen.insert(r.role);
      const sm100_ptx::Counts ptx = sm100_ptx::count_sections(L, r);
      const sm100_ptx::Counts mod = model_counts(m, r.role);
      CHECK_MESSAGE(ptx == mod, k.name << " " << r.role << ": PTX" << counts_str(ptx) << " vs model" << counts_str(mod));
      for (const auto& s : ptx)
        for (const auto& kk : s.second) compared += kk.second;
    }
    const std::vector<const char*> want = two ? std::vector<const char*>{"setup", "mma", "tma", "softmax", "correction", "teardown"}
                                              : std::vector<const char*>{"setup", "mma", "load", "softmax", "teardown"};
    for (const char* w : want) CHECK_MESSAGE(roles_seen.count(w), "no " << std::string(w) << " region found");
    CHECK(roles_seen.size() == want.size());
    if (two) {
      // Both softmax warpgroups run the one softmax region: their model programs have equal counts.
      md::Model only;
      for (const md::Program& pr : m.roles) {
        const std::string role = pr.role.substr(0, pr.role.find('.'));
        if (role == "softmax0" || (role == "softmax" && k.mv("KERNEL_Q_TILES") == 1)) only.roles.push_back(pr);
      }
      CHECK(model_counts(only, "softmax") == model_counts(m, "softmax"));
    }
  }
  CHECK(serial > 0);
  CHECK(twotile == 6);  // plain and EXT rows: the features add no synchronisation
  MESSAGE("extractor: " << compared << " synchronisation instructions of " << serial << " serial and " << twotile
                        << " two-tile kernels matched the model's event list per role and section");
}

TEST_CASE("sm100a protocol model: the extractor notices a changed PTX (mutation of the counted text)") {
  const auto ser = serial_kernels(), two = twotile_kernels();
  REQUIRE(!ser.empty());
  REQUIRE(!two.empty());
  std::vector<const SerialKernel*> which = {&ser.front()};
  for (const SerialKernel& k : two) which.push_back(&k);
  for (const SerialKernel* kp : which) {
    const SerialKernel& k = *kp;
    const bool is_two = k.macros.count("KERNEL_Q_TILES") != 0;
    const std::string text = read_preprocessed(k.name, k.path);
    md::Model m;
    if (is_two) {
      md::TwoTileParams p = twotile_kernel_params(k, {3, 0, 1, 2});
      p.rescale = [](int, int, int, int) { return true; };
      ext_sites(&p);
      m = md::twotile_model(p);
    } else {
      m = md::serial_model(serial_params(k, 4, static_cast<int>(k.mv("KERNEL_STAGES"))));
    }
    const auto entries = sm100_ptx::role_entries(k.macros);
    int caught = 0, tried = 0;
    for (const ExtractorEdit& e : extractor_edits(is_two)) {
      INFO(k.name << ": " << e.what);
      bool applied = false;
      const std::string why = extractor_mutant_differs(text, entries, m, e, &applied);
      if (!applied) {
        FAIL_CHECK(k.name << ": no instruction for the edit '" << e.what << "' (" << e.region << " " << e.section << " " << e.kind << ")");
        continue;
      }
      ++tried;
      CHECK_MESSAGE(!why.empty(), "the edit '" << e.what << "' left the extractor comparison equal");
      if (!why.empty()) ++caught;
    }
    CHECK(tried >= 7);
    MESSAGE("extractor mutations on " << k.name << ": " << caught << " of " << tried << " edits of the PTX caught");
  }
}

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
