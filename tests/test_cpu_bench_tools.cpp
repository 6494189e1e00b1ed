// CPU tests of the bench's Python tools on a synthetic ptxfmha_bench JSON (the counters and
// names the bench writes since 2026-12: decode cells with query tokens and cache layout, the
// read ceiling, cuDNN's tuned plan, both timing methods):
//   tools/plot_bench.py       the Markdown table
//   tools/sdpa_crosscheck.py  --list: the cells it would time, the bench's figures, the cells
//                             PyTorch's SDPA cannot express (paged, causal decode) skipped
//   tools/decode_split_replay.py  the plan's split counts against forced counts (own JSON)
//   tools/ncu_balance.py      per launch the longest SM over the busy SMs' mean (own CSV)
//   tools/decode_ab.py        two variants cell by cell, B over A, grouped
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "gpu_util.h"
#include "ptx_util.h"

using namespace ptxfmha_test;

namespace {
std::string write_temp(const std::string& text, const char* suffix) {
  char path[] = "/tmp/ptxfmha-benchjson-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  const std::string p = std::string(path) + suffix;
  std::rename(path, p.c_str());
  std::ofstream(p) << text;
  return p;
}

// Two prefill entries (d128 causal 4096: 4*4*16*4096^2*128/2 FLOP = 275 GFLOP) and three
// decode cells (contiguous, paged, 4 causal query tokens).
const char* kJson = R"({
 "context": {"device": "NVIDIA H200", "cudnn_version": "9.19.0", "timing_method": "b2b",
             "cudnn_baseline": "autotuned: fastest of heuristics modes A, B, fallback",
             "run_started_utc": "2026-12-02T00:00:00Z", "timing": "back-to-back"},
 "benchmarks": [
  {"name": "fwd/d128/causal/s4096/b4h16/cudnn/iterations:20/manual_time", "run_type": "iteration",
   "TFLOPS": 500.0, "median_us": 549.7558, "sm_mhz": 1800, "cudnn_engine": 8, "cudnn_plans_timed": 3},
  {"name": "fwd/d128/causal/s4096/b4h16/ptxfmha/iterations:20/manual_time", "run_type": "iteration",
   "TFLOPS": 550.0, "median_us": 499.7780, "vs_cudnn": 1.1, "vs_cudnn_launch": 1.05, "sm_mhz": 1790},
  {"name": "decode/d128/b1/kv8192/hq32hkv8/q1/contig/cudnn/iterations:20/manual_time", "run_type": "iteration",
   "KV_GBps": 1500.0, "GBps": 1501.0, "median_us": 22.37, "ceiling_GBps": 3000.0, "pct_ceiling": 50.0,
   "cudnn_engine": 0, "cudnn_plans_timed": 1},
  {"name": "decode/d128/b1/kv8192/hq32hkv8/q1/contig/ptxfmha/iterations:20/manual_time", "run_type": "iteration",
   "KV_GBps": 2000.0, "GBps": 2001.0, "median_us": 16.78, "vs_cudnn": 1.333, "ceiling_GBps": 3000.0,
   "pct_ceiling": 66.7, "read_us": 11.2, "bound_us": 11.2},
  {"name": "decode/d128/b8/kv8192/hq32hkv8/q1/page16/ptxfmha/iterations:20/manual_time", "run_type": "iteration",
   "KV_GBps": 3900.0, "median_us": 68.8},
  {"name": "decode/d128/b8/kv8192/hq32hkv8/q4/contig/cudnn/iterations:20/manual_time", "run_type": "iteration",
   "error_occurred": true, "error_message": "cuDNN unavailable for this case: not supported"}
 ]})";
}  // namespace

TEST_CASE("tools/plot_bench.py: decode cells with query tokens, cache, ceiling; cuDNN plan (CPU)") {
  const std::string json = write_temp(kJson, ".json");
  const std::string md = json + ".md";
  int rc = 0;
  const std::string out = run_command("python3 " + shell_quote(source_dir() + "/tools/plot_bench.py") + " " +
                                          shell_quote(json) + " --md " + shell_quote(md) + " 2>&1", &rc);
  CAPTURE(out);
  REQUIRE(rc == 0);
  std::ifstream f(md);
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::remove(json.c_str());
  std::remove(md.c_str());
  CAPTURE(text);
  CHECK(text.find("cuDNN baseline: autotuned") != std::string::npos);
  // prefill row: ratio, per-launch ratio, plan "eng8 of 3"
  CHECK(text.find("| 128 | causal | 4096 | 4 × 16 | 550.0 | 500.0 | 1.100 | 1.050 | eng8 of 3 |") != std::string::npos);
  // decode rows: K+V GB/s, ceiling, % of it, batch-1 latency next to its bound
  CHECK(text.find("| 128 | 1 | 8192 | 32/8 | 1 | contig | 2000 | 1500 | 1.333 | 3000 | 67 / 50 | 16.8 / 11.2 | eng0 |") != std::string::npos);
  CHECK(text.find("| 128 | 8 | 8192 | 32/8 | 1 | page16 | 3900 |") != std::string::npos);
  CHECK(text.find("| 128 | 8 | 8192 | 32/8 | 4 | contig |") != std::string::npos);
  CHECK(text.find("cuDNN: cuDNN unavailable for this case") != std::string::npos);
}

TEST_CASE("tools/sdpa_crosscheck.py --list: cells from the bench JSON, skips, the bench's figures (CPU)") {
  const std::string json = write_temp(kJson, ".json");
  int rc = 0;
  const std::string out = run_command("python3 " + shell_quote(source_dir() + "/tools/sdpa_crosscheck.py") +
                                          " --list --bench-json " + shell_quote(json) + " 2>&1", &rc);
  std::remove(json.c_str());
  CAPTURE(out);
  REQUIRE(rc == 0);
  CHECK(out.find("4 cells") != std::string::npos);
  // 275 GFLOP / 549.76 us = 500 TFLOPS; ours 550
  CHECK(out.find("fwd/d128/causal/s4096/b4h16 TFLOPS bench ours 550.0 cuDNN 500.0") != std::string::npos);
  // 33.55 MB of K+V / 16.78 us = 1999.7 GB/s (the cells are re-derived from the names)
  CHECK(out.find("decode/d128/b1/kv8192/hq32hkv8/q1/contig GB/s bench ours 1999.7 cuDNN 1500.0") != std::string::npos);
  CHECK(out.find("decode/d128/b8/kv8192/hq32hkv8/q1/page16 GB/s bench ours 3901.7 cuDNN - skipped: paged") != std::string::npos);
  CHECK(out.find("decode/d128/b8/kv8192/hq32hkv8/q4/contig GB/s bench ours - cuDNN - skipped: causal") != std::string::npos);
  // the default grid without a JSON: 36 prefill + 12 decode cells
  const std::string all = run_command("python3 " + shell_quote(source_dir() + "/tools/sdpa_crosscheck.py") +
                                          " --list 2>&1", &rc);
  CHECK(rc == 0);
  CHECK(all.find("48 cells") != std::string::npos);
}

// tools/decode_split_replay.py: the plan's split count against the fastest timed count per cell.
// Cell A is timed at 2 / 4 / 8 splits (8 twice: the smaller median counts); its e4m3 and cluster
// items are faster still but change the kernel or the merge path, so they must not count. Cell B
// is timed at 2 and 4; cell C at one count only (left out).
TEST_CASE("tools/decode_split_replay.py: plan against the best forced split count (CPU)") {
  const char* json = R"({"benchmarks": [
  {"name": "decode/d64/b4/kv8192/hq64hkv8/q4/contig/ptxfmha/iterations:4/manual_time", "splits": 4, "median_us": 10.0},
  {"name": "decode/d64/b4/kv8192/hq64hkv8/q4/contig/v=s8/ptxfmha/iterations:4/manual_time", "splits": 8, "median_us": 9.0},
  {"name": "decode/d64/b4/kv8192/hq64hkv8/q4/contig/v=s8/ptxfmha/iterations:4/manual_time", "splits": 8, "median_us": 9.5},
  {"name": "decode/d64/b4/kv8192/hq64hkv8/q4/contig/v=nocl+s2/ptxfmha/iterations:4/manual_time", "splits": 2, "median_us": 12.0},
  {"name": "decode/d64/b4/kv8192/hq64hkv8/q4/contig/v=e4m3+s8/ptxfmha/iterations:4/manual_time", "splits": 8, "median_us": 1.0},
  {"name": "decode/d64/b4/kv8192/hq64hkv8/q4/contig/v=cl+s8/ptxfmha/iterations:4/manual_time", "splits": 8, "median_us": 2.0},
  {"name": "decode/d64/b4/kv8192/hq64hkv8/q4/contig/v=s8/cudnn/iterations:4/manual_time", "median_us": 0.5},
  {"name": "decode/d128/b8/kv8192/hq64hkv8/q4/contig/ptxfmha/iterations:4/manual_time", "splits": 2, "median_us": 5.0},
  {"name": "decode/d128/b8/kv8192/hq64hkv8/q4/contig/v=s4/ptxfmha/iterations:4/manual_time", "splits": 4, "median_us": 6.0},
  {"name": "decode/d128/b1/kv8192/hq64hkv8/q4/contig/ptxfmha/iterations:4/manual_time", "splits": 16, "median_us": 7.0}
 ]})";
  const std::string path = write_temp(json, ".json");
  auto replay = [&](int a_splits, int* rc) {
    const std::string plans = write_temp(
        "# cell row ctas_per_sm splits split_ctas\n"
        "decode/d64/b4/kv8192/hq64hkv8/q4/contig fmha_decode_d64_sm90a 3 " + std::to_string(a_splits) + " 128\n"
        "decode/d128/b8/kv8192/hq64hkv8/q4/contig fmha_decode_d128_sm90a 2 2 128\n"
        "decode/d128/b1/kv8192/hq64hkv8/q4/contig fmha_decode_d128_sm90a 2 16 128\n", ".txt");
    const std::string out = run_command("python3 " + shell_quote(source_dir() + "/tools/decode_split_replay.py") +
                                            " --plans " + shell_quote(plans) + " " + shell_quote(path) + " 2>&1", rc);
    std::remove(plans.c_str());
    return out;
  };
  int rc = 0;
  const std::string out = replay(4, &rc);
  CAPTURE(out);
  CHECK(rc == 0);
  CHECK(out.find("decode/d64/b4/kv8192/hq64hkv8/q4/contig plan 4 10.0 us best 8 9.0 us ratio 1.111") != std::string::npos);
  CHECK(out.find("decode/d128/b8/kv8192/hq64hkv8/q4/contig plan 2 5.0 us best 2 5.0 us ratio 1.000") != std::string::npos);
  CHECK(out.find("decode/d128/b1/") == std::string::npos);
  // sqrt(10 / 9) = 1.0541; worst first
  CHECK(out.find("2 cells timed at >= 2 counts; 2 plans timed; geometric mean plan / best 1.0541; over 1.02: 1;") !=
        std::string::npos);
  CHECK(out.find("ratio 1.111") < out.find("ratio 1.000"));
  // The plan at the best count: no miss. At a count never timed: untimed, out of the mean.
  const std::string best = replay(8, &rc);
  CAPTURE(best);
  CHECK(best.find("geometric mean plan / best 1.0000; over 1.02: 0;") != std::string::npos);
  const std::string untimed = replay(6, &rc);
  CAPTURE(untimed);
  CHECK(untimed.find("decode/d64/b4/kv8192/hq64hkv8/q4/contig plan 6 untimed best 8 9.0 us") != std::string::npos);
  CHECK(untimed.find("1 plans timed") != std::string::npos);
  std::remove(path.c_str());
}

// --by-ctas: each cell's time at a grid size (split_ctas) over its fastest, grouped by head dim,
// m-tiles and cache. Cells A and C (kv >= 32k) are timed at 64 / 96 (/ 128) CTAs; B is short
// (left out at --min-kv 32768, in at 0); D has one grid size only; A's e4m3 item must not count;
// E (64 packed rows: 4 m-tiles, in pages of 64) is a group of its own, fastest at its larger grid.
TEST_CASE("tools/decode_split_replay.py --by-ctas: time over the best per grid size, grouped (CPU)") {
  const char* json = R"({"benchmarks": [
  {"name": "decode/d256/b1/kv32768/hq32hkv8/q1/contig/ptxfmha/iterations:4/manual_time", "splits": 8, "split_ctas": 64, "median_us": 10.0},
  {"name": "decode/d256/b1/kv32768/hq32hkv8/q1/contig/v=s12/ptxfmha/iterations:4/manual_time", "splits": 12, "split_ctas": 96, "median_us": 11.0},
  {"name": "decode/d256/b1/kv32768/hq32hkv8/q1/contig/v=s16/ptxfmha/iterations:4/manual_time", "splits": 16, "split_ctas": 128, "median_us": 10.5},
  {"name": "decode/d256/b1/kv32768/hq32hkv8/q1/contig/v=e4m3+s12/ptxfmha/iterations:4/manual_time", "splits": 12, "split_ctas": 96, "median_us": 1.0},
  {"name": "decode/d256/b1/kv4096/hq32hkv8/q1/contig/ptxfmha/iterations:4/manual_time", "splits": 8, "split_ctas": 64, "median_us": 4.0},
  {"name": "decode/d256/b1/kv4096/hq32hkv8/q1/contig/v=s12/ptxfmha/iterations:4/manual_time", "splits": 11, "split_ctas": 88, "median_us": 5.0},
  {"name": "decode/d256/b1/kv131072/hq32hkv8/q1/contig/ptxfmha/iterations:4/manual_time", "splits": 8, "split_ctas": 64, "median_us": 20.0},
  {"name": "decode/d256/b1/kv131072/hq32hkv8/q1/contig/v=s12/ptxfmha/iterations:4/manual_time", "splits": 12, "split_ctas": 96, "median_us": 23.0},
  {"name": "decode/d256/b1/kv131072/hq64hkv8/q1/contig/ptxfmha/iterations:4/manual_time", "splits": 8, "split_ctas": 64, "median_us": 30.0},
  {"name": "decode/d256/b1/kv131072/hq128hkv8/q4/page64/ptxfmha/iterations:4/manual_time", "splits": 8, "split_ctas": 64, "median_us": 44.0},
  {"name": "decode/d256/b1/kv131072/hq128hkv8/q4/page64/v=s12/ptxfmha/iterations:4/manual_time", "splits": 12, "split_ctas": 96, "median_us": 40.0}
 ]})";
  const std::string path = write_temp(json, ".json");
  auto run = [&](const char* args, int* rc) {
    return run_command("python3 " + shell_quote(source_dir() + "/tools/decode_split_replay.py") + " --by-ctas " +
                           args + " " + shell_quote(path) + " 2>&1", rc);
  };
  int rc = 0;
  const std::string out = run("--min-kv 32768", &rc);
  CAPTURE(out);
  CHECK(rc == 0);
  CHECK(out.find("d256 mt1 contig ctas 64: 2 cells, median 1.000, max 1.000") != std::string::npos);
  CHECK(out.find("d256 mt1 contig ctas 96: 2 cells, median 1.125, max 1.150") != std::string::npos);
  CHECK(out.find("d256 mt1 contig ctas 128: 1 cells, median 1.050, max 1.050") != std::string::npos);
  CHECK(out.find("d256 mt4 page64 ctas 64: 1 cells, median 1.100, max 1.100") != std::string::npos);
  CHECK(out.find("d256 mt4 page64 ctas 96: 1 cells, median 1.000, max 1.000") != std::string::npos);
  CHECK(out.find("ctas 88") == std::string::npos);  // B: kv 4k
  const std::string all = run("--min-kv 0", &rc);
  CAPTURE(all);
  CHECK(all.find("d256 mt1 contig ctas 88: 1 cells, median 1.250, max 1.250") != std::string::npos);
  CHECK(all.find("d256 mt1 contig ctas 64: 3 cells, median 1.000, max 1.000") != std::string::npos);
  std::remove(path.c_str());
}

// tools/ncu_balance.py on a made-up Nsight Compute raw page (log lines first, as ncu writes them
// after the program's own output): launch A has 96 CTAs on 132 SMs, so the busy SMs' mean is
// 600,000 x 132 / 96 = 825,000 cycles and its longest SM (935,000) 1.133x that; launch B has 256
// CTAs (every SM busy: 600,000 / 630,000 = 1.050). A file without the raw header is refused.
TEST_CASE("tools/ncu_balance.py: the longest SM over the busy SMs' mean, idle SMs left out (CPU)") {
  const char* csv =
      "==PROF== Connected to process 1\n"
      "some bench output\n"
      "\"ID\",\"Kernel Name\",\"dram__bytes_read.sum\",\"gpu__time_duration.sum\",\"launch__grid_size\","
      "\"sm__cycles_active.avg\",\"sm__cycles_active.max\",\"sm__ctas_launched.min\",\"sm__ctas_launched.max\"\n"
      "\"\",\"\",\"byte\",\"ns\",\"\",\"cycle\",\"cycle\",\"block\",\"block\"\n"
      "\"0\",\"fmha_decode_d256_sm90a\",\"1,073,832,192\",\"375,968\",\"96\",\"600,000\",\"935,000\",\"0\",\"1\"\n"
      "\"1\",\"fmha_decode_d64_s3_sm90a\",\"537,433,856\",\"177,664\",\"256\",\"600,000\",\"630,000\",\"1\",\"2\"\n";
  const std::string path = write_temp(csv, ".txt");
  auto run = [&](const std::string& file, int* rc) {
    return run_command("python3 " + shell_quote(source_dir() + "/tools/ncu_balance.py") + " " + shell_quote(file) +
                           " 2>&1", rc);
  };
  int rc = 0;
  const std::string out = run(path, &rc);
  CAPTURE(out);
  CHECK(rc == 0);
  CHECK(out.find(": 2 launches") != std::string::npos);
  CHECK(out.find("| fmha_decode_d256_sm90a | 376.0 | 96 | 0-1 | 1.0738 | - | - | 1.133 |") != std::string::npos);
  CHECK(out.find("| fmha_decode_d64_s3_sm90a | 177.7 | 256 | 1-2 | 0.5374 | - | - | 1.050 |") != std::string::npos);
  std::ofstream(path) << "no profile here\n";
  const std::string none = run(path, &rc);
  CAPTURE(none);
  CHECK(rc != 0);
  CHECK(none.find("no Nsight Compute raw CSV") != std::string::npos);
  std::remove(path.c_str());
}

// tools/decode_ab.py: two variants cell by cell. Cells A and B have both sides in one run (A: the
// tma side slower, producers recorded; B: faster, no ceiling); cell C has its tma side from
// another run (unpaired, not compared); cell D has no tma side; a cuDNN entry must not count.
TEST_CASE("tools/decode_ab.py: B over A per cell from one run, grouped by head dim and cache (CPU)") {
  const char* run1 = R"({"context": {"run_started_utc": "2026-12-07T01:00:00Z"}, "benchmarks": [
  {"name": "decode/d64/b32/kv8192/hq128hkv8/q1/contig/ptxfmha/iterations:4/manual_time", "median_us": 100.0, "KV_GBps": 990, "ceiling_GBps": 1000, "pct_ceiling": 99.0, "splits": 2, "split_ctas": 256, "cpasync": 1},
  {"name": "decode/d64/b32/kv8192/hq128hkv8/q1/contig/v=tma/ptxfmha/iterations:4/manual_time", "median_us": 102.0, "KV_GBps": 970, "ceiling_GBps": 1000, "pct_ceiling": 97.0, "splits": 2, "split_ctas": 256, "cpasync": 0},
  {"name": "decode/d64/b32/kv8192/hq128hkv8/q1/contig/v=tma/cudnn/iterations:4/manual_time", "median_us": 1.0},
  {"name": "decode/d64/b8/kv8192/hq32hkv8/q1/contig/ptxfmha/iterations:4/manual_time", "median_us": 50.0, "splits": 4, "split_ctas": 128},
  {"name": "decode/d64/b8/kv8192/hq32hkv8/q1/contig/v=tma/ptxfmha/iterations:4/manual_time", "median_us": 45.0, "splits": 4, "split_ctas": 128},
  {"name": "decode/d128/b8/kv8192/hq32hkv8/q1/contig/ptxfmha/iterations:4/manual_time", "median_us": 80.0},
  {"name": "decode/d128/b8/kv32768/hq32hkv8/q1/contig/ptxfmha/iterations:4/manual_time", "median_us": 300.0}
 ]})";
  const char* run2 = R"({"context": {"run_started_utc": "2026-12-07T02:00:00Z"}, "benchmarks": [
  {"name": "decode/d128/b8/kv8192/hq32hkv8/q1/contig/v=tma/ptxfmha/iterations:4/manual_time", "median_us": 70.0}
 ]})";
  const std::string p1 = write_temp(run1, ".json"), p2 = write_temp(run2, ".json");
  const std::string tool = "python3 " + shell_quote(source_dir() + "/tools/decode_ab.py") + " ";
  int rc = 0;
  const std::string out = run_command(tool + "default tma " + shell_quote(p1) + " " + shell_quote(p2) + " 2>&1", &rc);
  CAPTURE(out);
  CHECK(rc == 0);
  CHECK(out.find("| d64/b32/kv8192/hq128hkv8/q1/contig | 100.0 | 99.0 | 2 | 256 | ca | 102.0 | 97.0 | 2 | 256 | tma | 1.020 |") !=
        std::string::npos);
  CHECK(out.find("| d64/b8/kv8192/hq32hkv8/q1/contig | 50.0 | - | 4 | 128 | - | 45.0 | - | 4 | 128 | - | 0.900 |") !=
        std::string::npos);
  CHECK(out.find("| d64 contig | 2 | 0.960 | 0.900 | 1.020 | 1 |") != std::string::npos);
  CHECK(out.find("d128/b8/kv8192") == std::string::npos);
  CHECK(out.find("d128/b8/kv32768") == std::string::npos);
  CHECK(out.find("1 cells had both sides from different runs: not compared") != std::string::npos);
  // the sides swapped: the ratios invert
  const std::string swapped = run_command(tool + "tma default " + shell_quote(p1) + " 2>&1", &rc);
  CAPTURE(swapped);
  CHECK(swapped.find("| d64 contig | 2 | 1.046 | 0.980 | 1.111 | 1 |") != std::string::npos);
  // no cell with both
  const std::string none = run_command(tool + "default s2 " + shell_quote(p1) + " 2>&1", &rc);
  CHECK(rc != 0);
  CHECK(none.find("no decode cells with both default and s2 in one run") != std::string::npos);
  std::remove(p1.c_str());
  std::remove(p2.c_str());
}
