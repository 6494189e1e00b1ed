// The bench's read probes (bench/read_probe.h, bench/read_stream.ptx bench_read_rows_ld / _ca):
//   - the names and the launch geometry (CPU);
//   - the kernels executed on the CPU (tests/sm100_model/ptx_exec.h), every thread of every CTA,
//     on small caches (2 sequences x 3 KV heads x 5 tiles; rows of 64-512 bytes; 1, 2 and 3
//     splits): each 16-byte chunk of K and of V read exactly once over the grid (ld: its loads;
//     ca: its copies' sources), at the cell's address (sequence, key, head, chunk); ca: each
//     thread folds exactly the chunks it copied, each after a cp.async.wait_group that completed
//     its group and before the stage is copied into again, inside the ring's shared memory;
//     threads past the issuers do nothing;
//   - the mutations those checks must catch (the PTX edited, then executed);
//   - tools/read_probes.py on a made-up bench JSON (CPU).
// The bench's own GPU check (bench_ceiling.cpp prepare_read_probes: the probe's sink XOR equals
// the ceiling kernel's over the same bytes) runs only on a GPU; its mutation is
// PTXFMHA_BENCH_PROBE_MUTATE=1.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gpu_util.h"
#include "ptx_util.h"
#include "read_probe.h"
#include "sm100_model/ptx_exec.h"
#include "sm100_model/ptx_roles.h"

using ptxfmha_bench::parse_read_probe;
using ptxfmha_bench::read_probe_launch;
using ptxfmha_bench::ReadProbe;
using ptxfmha_bench::ReadProbeLaunch;
using ptxfmha_test::run_command;
using ptxfmha_test::shell_quote;
using ptxfmha_test::source_dir;

namespace {

ReadProbe probe(const std::string& s) {
  ReadProbe p;
  std::string why;
  REQUIRE_MESSAGE(parse_read_probe(s, &p, &why), why);
  return p;
}

// One entry of the preprocessed read_stream PTX, its parameters renamed to P + offset.
std::vector<sm100_ptx::Stmt> entry_statements(const std::string& entry) {
  bool ok = false;
  const std::string path = ptxfmha_test::build_dir() + "/cubin-bench/read_stream_sm90a.ptx";
  std::string text = ptxfmha_test::read_text_file(path, &ok);
  REQUIRE_MESSAGE(ok, "missing " << path << " (make bench, or make test)");
  const std::size_t at = text.find(".visible .entry " + entry + "(");
  REQUIRE(at != std::string::npos);
  const std::size_t end = text.find(".visible .entry ", at + 1);
  text = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
  const std::pair<const char*, int> params[] = {{"p_k", 0},         {"p_v", 8},           {"p_batch_stride", 16},
                                                {"p_key_stride", 24}, {"p_row_bytes", 32},  {"p_row_vecs_log2", 36},
                                                {"p_split_keys", 40}, {"p_keys", 44},       {"p_issuers", 48},
                                                {"p_sink", 56}};
  for (const auto& p : params) {
    const std::string from = std::string("[") + p.first + "]", to = "[P+" + std::to_string(p.second) + "]";
    for (std::size_t i = text.find(from); i != std::string::npos; i = text.find(from, i + to.size()))
      text.replace(i, from.size(), to);
  }
  return sm100_ptx::parse_statements(text);
}

// `from` -> `to` in the nth statement (from 0) containing it; false if there is none.
bool mutate(std::vector<sm100_ptx::Stmt>& st, const std::string& from, const std::string& to, int nth) {
  for (sm100_ptx::Stmt& s : st) {
    const std::size_t at = s.text.find(from);
    if (at == std::string::npos || nth-- > 0) continue;
    s.text.replace(at, from.size(), to);
    return true;
  }
  return false;
}

constexpr uint64_t kK = 0x10000000, kV = 0x50000000, kSmem = 0x400;

// Executes every thread of the grid; "" or the first violation.
std::string run_grid(const std::vector<sm100_ptx::Stmt>& st, const ReadProbe& p, const ReadProbeLaunch& l,
                     int64_t batch, int64_t keys, int64_t heads) {
  static const std::map<std::string, std::string> no_macros;
  const uint64_t range = uint64_t(batch) * uint64_t(keys) * uint64_t(heads) * l.row_bytes;
  std::map<uint64_t, int> reads;  // chunk address -> times read (K and V)
  std::shared_ptr<sm100_exec::Thread::Decoding> dec;
  for (uint32_t z = 0; z < l.grid[2]; ++z)
    for (uint32_t y = 0; y < l.grid[1]; ++y)
      for (uint32_t x = 0; x < l.grid[0]; ++x)
        for (uint32_t t = 0; t < uint32_t(ptxfmha_bench::kProbeThreads); ++t) {
          sm100_exec::Thread th(st, no_macros);
          if (dec) th.decoding = dec;
          th.tid = t;
          th.ctaid[0] = x; th.ctaid[1] = y; th.ctaid[2] = z;
          th.nctaid[0] = l.grid[0]; th.nctaid[1] = l.grid[1]; th.nctaid[2] = l.grid[2];
          th.smem_name = "smem_rows";
          th.smem_symbol = kSmem;
          th.param_name = "P";
          th.params = {{0, kK},  {8, kV},           {16, l.batch_stride_bytes}, {24, l.key_stride_bytes},
                       {32, l.row_bytes}, {36, l.row_vecs_log2}, {40, l.split_keys}, {44, l.keys},
                       {48, l.issuers}, {56, 0x90000000ull}};
          th.trace_data = true;
          const std::string who = "CTA (" + std::to_string(x) + ", " + std::to_string(y) + ", " +
                                  std::to_string(z) + ") thread " + std::to_string(t) + ": ";
          if (!th.run()) return who + th.error;
          dec = th.decoding;
          if (th.unknown_branches) return who + "a branch on an unknown predicate";
          // ca: the thread's groups. pending: copied, not committed; groups: committed, not
          // waited for; done: complete, not yet folded.
          std::set<uint64_t> pending, done;
          std::vector<std::set<uint64_t>> groups;
          int copies = 0;
          for (const sm100_exec::TraceEv& e : th.trace) {
            if (e.kind == "ld_global" || e.kind == "cp_async") {
              const uint64_t src = e.kind == "cp_async" ? e.src : e.addr;
              if (e.kind == "cp_async" && !p.cp_async) return who + "a cp.async in the ld kernel";
              if (e.kind == "ld_global" && p.cp_async) return who + "an ld.global in the ca kernel";
              if (src == ~0ull || src % 16 != 0) return who + "an unknown or unaligned source";
              const bool in_k = src >= kK && src < kK + range, in_v = src >= kV && src < kV + range;
              if (!in_k && !in_v) return who + "a read outside K and V";
              ++reads[src];
              if (e.kind == "cp_async") {
                ++copies;
                if (e.arg != 16) return who + "a copy of other than 16 bytes";
                if (e.addr < kSmem || e.addr + 16 > kSmem + l.smem_bytes) return who + "a copy outside the ring";
                for (const auto& g : groups)
                  if (g.count(e.addr)) return who + "a copy into a chunk still in flight";
                if (pending.count(e.addr) || done.count(e.addr)) return who + "a copy over a chunk not yet folded";
                pending.insert(e.addr);
              }
            } else if (e.kind == "cp_async_commit") {
              groups.push_back(pending);
              pending.clear();
            } else if (e.kind == "cp_async_wait") {
              while (groups.size() > std::size_t(e.arg)) {
                done.insert(groups.front().begin(), groups.front().end());
                groups.erase(groups.begin());
              }
            } else if (e.kind == "ld_shared") {
              if (!done.erase(e.addr)) return who + "a fold of a chunk not copied, or not yet complete, or folded before";
            }
          }
          if (!pending.empty() || !groups.empty() || !done.empty()) return who + "copies never folded";
          if (p.cp_async && t >= l.issuers && copies) return who + "a thread past the issuers copied";
        }
  // Every chunk of both ranges exactly once, and each at its (sequence, key, head) address: the
  // ranges are dense, so the count check covers the address map.
  const uint64_t chunks = 2 * range / 16;
  if (reads.size() != chunks) return "read " + std::to_string(reads.size()) + " distinct chunks of " + std::to_string(chunks);
  for (const auto& r : reads)
    if (r.second != 1) return "chunk at 0x" + std::to_string(r.first) + " read " + std::to_string(r.second) + " times";
  return "";
}

std::string run_case(const std::vector<sm100_ptx::Stmt>& st, const std::string& name, int64_t row_bytes, int splits) {
  const ReadProbe p = probe(name);
  ReadProbeLaunch l;
  const int64_t batch = 2, heads = 3, keys = 5 * ptxfmha_bench::kProbeTileKeys;
  const std::string e = read_probe_launch(p, batch, keys, heads, row_bytes, splits, &l);
  if (!e.empty()) return "launch: " + e;
  return run_grid(st, p, l, batch, keys, heads);
}

}  // namespace

TEST_CASE("read probe: names and launch geometry (CPU)") {
  ReadProbe p = probe("ca32x1");
  CHECK(p.cp_async);
  CHECK(p.issuers == 32);
  CHECK(p.one_split);
  p = probe("ld");
  CHECK_FALSE(p.cp_async);
  CHECK(p.issuers == 128);
  CHECK_FALSE(p.one_split);
  CHECK(probe("ca128").issuers == 128);
  CHECK(probe("ca64x1").issuers == 64);
  for (const char* bad : {"", "ca", "ca16", "ca96", "ldx2", "x1", "CA32", "ld,ca32"}) {
    ReadProbe q;
    std::string why;
    CHECK_MESSAGE(!parse_read_probe(bad, &q, &why), bad);
    CHECK(why.find("read probe") != std::string::npos);
  }
  // d128 bf16, 32 sequences, 8 KV heads, 8k keys, the plan's 3 splits: 128 tiles -> 43 a split.
  ReadProbeLaunch l;
  REQUIRE(read_probe_launch(probe("ca32"), 32, 8192, 8, 256, 3, &l).empty());
  CHECK(l.row_vecs_log2 == 4);
  CHECK(l.key_stride_bytes == 8 * 256);
  CHECK(l.batch_stride_bytes == uint64_t(8192) * 8 * 256);
  CHECK(l.split_keys == 43 * 64);
  CHECK(l.grid[0] == 8);
  CHECK(l.grid[1] == 3);
  CHECK(l.grid[2] == 32);
  CHECK(l.smem_bytes == 3 * 2 * 64 * 256);  // 96 KiB: two CTAs per SM, as the d128 row
  CHECK(l.issuers == 32);
  REQUIRE(read_probe_launch(probe("ca128x1"), 32, 8192, 8, 256, 3, &l).empty());
  CHECK(l.grid[1] == 1);
  CHECK(l.split_keys == 8192);
  REQUIRE(read_probe_launch(probe("ld"), 4, 1024, 8, 128, 7, &l).empty());  // 16 tiles: 3 a split -> 6 splits
  CHECK(l.split_keys == 3 * 64);
  CHECK(l.grid[1] == 6);
  CHECK(l.smem_bytes == 0);
  // Refused, by name: keys not whole tiles, rows ld cannot walk or no kernel can, bad counts.
  CHECK(read_probe_launch(probe("ca32"), 2, 1000, 8, 256, 1, &l).find("keys 1000") != std::string::npos);
  CHECK(read_probe_launch(probe("ld"), 2, 1024, 8, 64, 1, &l).find("ld needs") != std::string::npos);
  CHECK(read_probe_launch(probe("ca32"), 2, 1024, 8, 64, 1, &l).empty());  // e4m3 d64 rows: ca only
  CHECK(read_probe_launch(probe("ca32"), 2, 1024, 8, 1024, 1, &l).find("1024 bytes") != std::string::npos);
  CHECK(read_probe_launch(probe("ca32"), 2, 1024, 8, 192, 1, &l).find("192 bytes") != std::string::npos);
  CHECK(read_probe_launch(probe("ca32"), 0, 1024, 8, 256, 1, &l).find("batch 0") != std::string::npos);
  CHECK(read_probe_launch(probe("ca32"), 70000, 1024, 8, 256, 1, &l).find("batch") != std::string::npos);
  CHECK(read_probe_launch(probe("ca32"), 2, 1024, 8, 256, 0, &l).find("splits") != std::string::npos);
}

TEST_CASE("read probe: the kernels read every chunk of K and V once, ca folds each copy after its wait (CPU)") {
  const std::vector<sm100_ptx::Stmt> ld = entry_statements("bench_read_rows_ld");
  const std::vector<sm100_ptx::Stmt> ca = entry_statements("bench_read_rows_ca");
  int cases = 0;
  for (int splits : {1, 2, 4}) {  // 5 tiles: one split of 5; 3 + 2; 2 + 2 + 1
    for (int64_t row : {128, 256, 512}) {
      CHECK_MESSAGE(run_case(ld, "ld", row, splits) == "", "ld row " << row << " splits " << splits);
      ++cases;
    }
    for (int64_t row : {64, 128, 256, 512})
      for (const char* n : {"ca32", "ca64", "ca128", "ca32x1"}) {
        CHECK_MESSAGE(run_case(ca, n, row, splits) == "", n << " row " << row << " splits " << splits);
        ++cases;
      }
  }
  MESSAGE(cases << " grids executed");
}

TEST_CASE("read probe: the executed checks catch broken kernels (mutations, CPU)") {
  struct Mut {
    const char* entry;
    const char* probe;
    const char* from;
    const char* to;
    int nth;             // which statement holding `from`
    int splits;          // of the 5-tile cache
    const char* expect;  // a word of the violation
  };
  const Mut muts[] = {
      // fold before the copies complete: the wait leaves all three groups pending
      {"bench_read_rows_ca", "ca32", "cp.async.wait_group 3 - 1", "cp.async.wait_group 3", 0, 2, "not yet complete"},
      // the drain folds one tile fewer
      {"bench_read_rows_ca", "ca128", "min.u32 %i, %tiles, 3 - 1", "min.u32 %i, %tiles, 3 - 2", 0, 2, "never folded"},
      // the write stage never wraps: copies past the ring (a split of 5 tiles)
      {"bench_read_rows_ca", "ca32", "@%p mov.u32 %wr, 0", "@%p mov.u32 %wr, %wr", 0, 1, "outside the ring"},
      // the drain folds the same stage twice
      {"bench_read_rows_ca", "ca32", "add.u32 %rd, %rd, %stage_bytes", "add.u32 %rd, %rd, 0", 1, 2, "folded before"},
      // V's chunks copied a tile too far (into the next stage)
      {"bench_read_rows_ca", "ca32", "add.u32 %b, %a, %tile_bytes", "add.u32 %b, %a, %stage_bytes", 0, 2, "copy"},
      // tiles of 128 keys counted: half the tiles read
      {"bench_read_rows_ld", "ld", "shr.u32 %tiles, %t1, 6", "shr.u32 %tiles, %t1, 7", 0, 2, "distinct chunks"},
      // the ld loop steps eight chunks for four read
      {"bench_read_rows_ld", "ld", "add.u32 %i, %i, 4", "add.u32 %i, %i, 8", 0, 2, "distinct chunks"},
      // the head's offset dropped: heads read each other's rows
      {"bench_read_rows_ld", "ld", "add.u64 %off, %off, %w64", "add.u64 %off, %off, 0", 0, 2, "distinct chunks"},
      // the split's first key ignored: every split reads from key 0
      {"bench_read_rows_ca", "ca128", "mad.lo.u64 %off, %w64, %kstride, %off", "add.u64 %off, %off, 0", 0, 2,
       "distinct chunks"},
  };
  int caught = 0;
  for (const Mut& m : muts) {
    std::vector<sm100_ptx::Stmt> st = entry_statements(m.entry);
    REQUIRE_MESSAGE(mutate(st, m.from, m.to, m.nth), "mutation site not found: " << std::string(m.from));
    const std::string e = run_case(st, m.probe, 256, m.splits);
    const bool hit = !e.empty() && e.find(m.expect) != std::string::npos;
    const std::string what = std::string(m.from) + " -> " + m.to + ": " + (e.empty() ? "not caught" : e);
    CHECK_MESSAGE(hit, what);
    caught += hit;
  }
  MESSAGE(caught << " of " << sizeof muts / sizeof muts[0] << " mutations caught");
}

// tools/read_probes.py: two cells; ours / cuDNN / probes as % of each cell's ceiling, the medians
// and the count above the ceiling; a file without probes is refused.
TEST_CASE("tools/read_probes.py: percentages of the ceiling, medians, cells above it (CPU)") {
  char path[] = "/tmp/ptxfmha-probes-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  auto entry = [](const std::string& cell, const std::string& side, const std::string& counters) {
    return "{\"name\": \"decode/" + cell + "/" + side + "/iterations:4/manual_time\", \"median_us\": 1, " + counters +
           "}";  // (median_us: every bench entry has it; decode_targets.load keeps only timed entries)
  };
  std::ofstream(path) << "{\"benchmarks\": ["
                      << entry("d128/b8/kv8192/hq32hkv8/q1/contig", "cudnn", "\"KV_GBps\": 990, \"ceiling_GBps\": 1000") << ", "
                      << entry("d128/b8/kv8192/hq32hkv8/q1/contig", "ptxfmha",
                               "\"KV_GBps\": 980, \"ceiling_GBps\": 1000, \"splits\": 2, \"probe_ca32_GBps\": 1006, "
                               "\"probe_ld_GBps\": 950")
                      << ", "
                      << entry("d128/b8/kv32768/hq32hkv8/q1/contig", "ptxfmha",
                               "\"KV_GBps\": 1800, \"ceiling_GBps\": 2000, \"splits\": 1, \"probe_ca32_GBps\": 2040")
                      << "]}";
  int rc = 0;
  const std::string cmd = "python3 " + shell_quote(source_dir() + "/tools/read_probes.py") + " " + shell_quote(path) + " 2>&1";
  const std::string out = run_command(cmd, &rc);
  CAPTURE(out);
  CHECK(rc == 0);
  CHECK(out.find("| cell | splits | ceiling GB/s | ours % | cuDNN % | ca32 % | ld % |") != std::string::npos);
  CHECK(out.find("| d128/b8/kv8192/hq32hkv8/q1/contig | 2 | 1000 | 98.0 | 99.0 | 100.6 | 95.0 |") != std::string::npos);
  CHECK(out.find("| d128/b8/kv32768/hq32hkv8/q1/contig | 1 | 2000 | 90.0 | - | 102.0 | - |") != std::string::npos);
  CHECK(out.find("| median | | | 94.0 | 99.0 | 101.3 | 95.0 |") != std::string::npos);
  CHECK(out.find("| cells > 100% | | | 0 of 2 | 0 of 1 | 2 of 2 | 0 of 1 |") != std::string::npos);
  std::ofstream(path) << "{\"benchmarks\": [" << entry("d128/b8/kv8192/hq32hkv8/q1/contig", "ptxfmha", "\"KV_GBps\": 980, \"ceiling_GBps\": 1000") << "]}";
  const std::string none = run_command(cmd, &rc);
  CHECK(rc != 0);
  CHECK(none.find("no decode cells with read probes") != std::string::npos);
  std::remove(path);
}
