// The CTA placement probe (bench/placement_probe.h, bench/read_stream.ptx bench_placement_read):
//   - summarize_placement on made-up records (CPU): SMs, TPCs (SMs 2k and 2k + 1), CTAs that
//     share their TPC against CTAs alone, their median read times, an unwritten record;
//   - run_placement_probe refuses bad arguments before it touches the driver (CPU);
//   - the kernel's SASS reads the SM id and the global timer and writes three u64 per CTA (sass);
//   - tools/placement_groups.py on made-up --raw records (CPU);
//   - on a GPU: one CTA per SM under the split kernel's shared memory, every record written
//     (gpu).
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "context.h"
#include "gpu_util.h"
#include "placement_probe.h"
#include "ptx_util.h"

using ptxfmha_bench::PlacementOptions;
using ptxfmha_bench::PlacementRecord;
using ptxfmha_bench::PlacementRun;
using ptxfmha_bench::summarize_placement;
using namespace ptxfmha_test;

namespace {
PlacementRecord rec(uint64_t sm, uint64_t start_us, uint64_t us) { return {sm, start_us * 1000, (start_us + us) * 1000}; }

std::string bench_cubin(const char* arch) { return build_dir() + "/cubin-bench/read_stream_" + arch + ".cubin"; }
}  // namespace

TEST_CASE("placement probe: summary of made-up records (SMs, TPCs, shared against alone)") {
  // TPC 0: SMs 0 and 1 busy (shared); TPC 1: SM 2 only (alone); TPC 2: SMs 4 and 5 (shared);
  // TPC 4: SM 8 only. Shared CTAs read 10 / 12 / 14 / 16 us (median 13), alone ones 20 / 30 (25).
  std::vector<PlacementRecord> r = {rec(0, 5, 10), rec(1, 5, 12), rec(2, 6, 20), rec(4, 5, 14), rec(5, 7, 16),
                                    rec(8, 5, 30)};
  auto s = summarize_placement(r);
  CHECK(s.valid);
  CHECK(s.ctas == 6);
  CHECK(s.sms_used == 6);
  CHECK(s.max_ctas_per_sm == 1);
  CHECK(s.tpcs_used == 4);
  CHECK(s.tpcs_shared == 2);
  CHECK(s.shared_ctas == 4);
  CHECK(s.alone_ctas == 2);
  CHECK(s.shared_us == doctest::Approx(13.0));
  CHECK(s.alone_us == doctest::Approx(25.0));
  CHECK(s.span_us == doctest::Approx(30.0));  // 5 us to 35 us
  // A second CTA on SM 2: its TPC's other SM (3) is still idle, so both stay alone.
  r.push_back(rec(2, 26, 40));
  s = summarize_placement(r);
  CHECK(s.max_ctas_per_sm == 2);
  CHECK(s.sms_used == 6);
  CHECK(s.tpcs_used == 4);
  CHECK(s.alone_ctas == 3);
  CHECK(s.alone_us == doctest::Approx(30.0));
  CHECK(s.span_us == doctest::Approx(61.0));
  // The odd SM of a pair alone (SM 9, SM 8 idle) is a TPC of its own.
  s = summarize_placement({rec(9, 0, 5), rec(6, 0, 5), rec(7, 0, 7)});
  CHECK(s.tpcs_used == 2);
  CHECK(s.tpcs_shared == 1);
  CHECK(s.alone_ctas == 1);
  CHECK(s.shared_us == doctest::Approx(6.0));
  // A record the kernel did not write (the host's 0xff poison: end < start does not hold then,
  // and the SM id is out of range) or a backwards one makes the summary invalid.
  CHECK_FALSE(summarize_placement({rec(0, 0, 5), {~0ull, ~0ull, ~0ull}}).valid);
  CHECK_FALSE(summarize_placement({rec(0, 0, 5), {3, 2000, 1000}}).valid);
  CHECK(summarize_placement({}).ctas == 0);
}

TEST_CASE("placement probe: bad arguments are refused by name before the driver is touched") {
  std::vector<PlacementRun> runs(1);
  // run_placement_probe refuses what placement_options_error names (the CLI asks the latter
  // before it acquires a GPU), the same words.
  auto why = [&](PlacementOptions o) {
    const std::string named = ptxfmha_bench::placement_options_error(o);
    const std::string refused = ptxfmha_bench::run_placement_probe(o, &runs);
    CHECK(refused == named);
    return named;
  };
  PlacementOptions ok;
  ok.sizes = {4};
  ok.cta_bytes = 1 << 20;
  PlacementOptions o = ok;
  o.sizes.clear();
  CHECK(why(o).find("sizes") != std::string::npos);
  o = ok;
  o.sizes = {0};
  CHECK(why(o).find("sizes: 0") != std::string::npos);
  o = ok;
  o.cta_bytes = 24;
  CHECK(why(o).find("cta_bytes: 24") != std::string::npos);
  o = ok;
  o.threads = 48;
  CHECK(why(o).find("threads: 48") != std::string::npos);
  o = ok;
  o.reps = 0;
  CHECK(why(o).find("reps: 0") != std::string::npos);
  o = ok;
  o.smem_bytes = -1;
  CHECK(why(o).find("smem_bytes: -1") != std::string::npos);
  o = ok;
  o.threads = 1024;  // the largest CTA, accepted
  CHECK(ptxfmha_bench::placement_options_error(o).empty());
  CHECK(runs.empty());  // cleared, nothing written
}

TEST_CASE("placement probe: bench_placement_read's SASS reads the SM id and the timer, writes 24 bytes per CTA" *
          doctest::test_suite("sass")) {
  for (const char* arch : {"sm90a", "sm100a"}) {
    CAPTURE(arch);
    const std::string cubin = bench_cubin(arch);
    REQUIRE_MESSAGE(file_exists(cubin), "missing " << cubin << " (make bench, or make test)");
    int rc = 0;
    const std::string sass = run_command(shell_quote(cuobjdump_path()) + " -sass -fun bench_placement_read " +
                                             shell_quote(cubin) + " 2>&1", &rc);
    REQUIRE(rc == 0);
    auto count = [&](const std::string& what) {
      long long n = 0;
      for (std::size_t at = sass.find(what); at != std::string::npos; at = sass.find(what, at + 1)) ++n;
      return n;
    };
    CHECK(count("SR_VIRTUALSMID") == 1);    // %smid
    CHECK(count("SR_GLOBALTIMER") == 2);    // start and end
    CHECK(count("BAR.SYNC") == 2);          // before the first load, after the last
    CHECK(count("STG.E.64") == 3);          // {smid, start, end}
    CHECK(count("LDG.E.NA.128.CONSTANT") >= 9);  // READ_RANGE: 8 per iteration + the tail
  }
}

// tools/placement_groups.py on made-up --raw records: 12 SMs, SMs 10 / 11 fill first (--first 2),
// then a rotation over groups starting at SMs 0, 4, 8 (it comes round at SM 1, already at the
// smallest size). At 6 CTAs TPCs 0 and 5 are shared (100 us each) and SMs 4 / 8 alone (110 / 120);
// at 7 the group of SM 0 holds three (SMs 0, 1, 2: 210 / 230 / 200 us, median 210), and TPCs 0
// (SMs 0, 1) and 5 (SMs 10, 11) are shared (200 / 200 / 210 / 230: median 205).
TEST_CASE("tools/placement_groups.py: groups from the fill order, per-group and shared-TPC medians (CPU)") {
  char path[] = "/tmp/ptxfmha-placement-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  auto raw = [](int ctas, const std::vector<std::pair<int, int>>& sm_us) {
    std::string t;
    for (std::size_t c = 0; c < sm_us.size(); ++c)
      t += "raw " + std::to_string(ctas) + " " + std::to_string(c) + " " + std::to_string(sm_us[c].first) + " 1000000 " +
           std::to_string(1000000 + 1000 * sm_us[c].second) + "\n";
    return t;
  };
  std::ofstream(path) << "ctas 6: summary line, ignored\n"
                      << raw(6, {{10, 100}, {11, 100}, {0, 100}, {4, 110}, {8, 120}, {1, 100}})
                      << raw(7, {{10, 200}, {11, 200}, {0, 210}, {4, 200}, {8, 200}, {1, 230}, {2, 200}});
  auto run = [&](const std::string& file, int* rc) {
    return run_command("python3 " + shell_quote(source_dir() + "/tools/placement_groups.py") + " --first 2 " +
                           shell_quote(file) + " 2>&1", rc);
  };
  int rc = 0;
  const std::string out = run(path, &rc);
  CAPTURE(out);
  CHECK(rc == 0);
  CHECK(out.find("groups start at SMs [0, 4, 8]; always-first SMs [10, 11]") != std::string::npos);
  CHECK(out.find("| 0 | 3 | 210.0 | 230.0 |") != std::string::npos);  // size 7, group of SM 0
  CHECK(out.find("| 8 | 1 | 120.0 | 120.0 |") != std::string::npos);  // size 6, group of SM 8
  CHECK(out.find("| 6 | 100.0 / 120.0 | 20.0% | 100.0 (4) | 115.0 (2) | 120.0 |") != std::string::npos);
  CHECK(out.find("| 7 | 200.0 / 210.0 | 5.0% | 205.0 (4) | 200.0 (3) | 230.0 |") != std::string::npos);
  // no raw records: refused, with the file named
  std::ofstream(path) << "ctas 5: summary line only\n";
  const std::string none = run(path, &rc);
  CAPTURE(none);
  CHECK(rc != 0);
  CHECK(none.find("no 'raw' records") != std::string::npos);
  std::remove(path);
}

TEST_CASE("gpu placement probe: one CTA per SM under 200 KiB of shared memory, every record written" *
          doctest::test_suite("gpu")) {
  REQUIRE(ensure_context());
  setenv("PTXFMHA_BENCH_CUBIN_DIR", (build_dir() + "/cubin-bench").c_str(), 1);
  ptxfmha::DeviceInfo dev;
  REQUIRE(ptxfmha::acquire_context(&dev) == PTXFMHA_OK);
  PlacementOptions o;
  o.sizes = {1, dev.num_sms / 2, dev.num_sms, 2 * dev.num_sms};
  o.cta_bytes = 1 << 20;
  o.smem_bytes = 200 * 1024;
  o.reps = 3;
  std::vector<PlacementRun> runs;
  const std::string why = ptxfmha_bench::run_placement_probe(o, &runs);
  INFO(why);
  REQUIRE(why.empty());
  REQUIRE(runs.size() == 4);
  for (const PlacementRun& r : runs) {
    CAPTURE(r.ctas);
    const auto& s = r.summary;
    MESSAGE("ctas " << r.ctas << ": " << r.kernel_ms << " ms, " << r.gb_per_s << " GB/s, SMs " << s.sms_used
                    << ", TPCs " << s.tpcs_used << " (" << s.tpcs_shared << " shared), shared " << s.shared_us
                    << " us, alone " << s.alone_us << " us");
    CHECK(s.valid);
    CHECK(s.ctas == r.ctas);
    CHECK(r.records.size() == std::size_t(r.ctas));
    CHECK(r.kernel_ms > 0.0);
    CHECK(r.gb_per_s > 0.0);
    // one CTA per SM: up to the SM count every CTA has its own SM; twice as many, two waves
    if (r.ctas <= dev.num_sms) CHECK(s.max_ctas_per_sm == 1);
    else CHECK(s.max_ctas_per_sm >= 2);
    CHECK(s.sms_used == std::min(r.ctas, dev.num_sms));
  }
}
