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
//     (build/ptx/sm100a/*.ptx) per prologue / loop body / epilogue, against the model's events.
// The PTX executed on the CPU and the injected bugs: tests/test_cpu_sm100a_protocol_exec.cpp;
// the helpers both files use (kernels, model parameters, random runs): sm100_model/kernels.h.
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

#include "sm100_model/kernels.h"

namespace {

namespace md = sm100_model;
using namespace sm100_kernels;

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
  const auto& ks = ptxfmha_test::sm100a_fwd_kernels();
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
