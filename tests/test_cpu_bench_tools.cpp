// CPU tests of the bench's Python tools on a synthetic ptxfmha_bench JSON (the counters and
// names the bench writes since 2026-12: decode cells with query tokens and cache layout, the
// read ceiling, cuDNN's tuned plan, both timing methods):
//   tools/plot_bench.py       the Markdown table
//   tools/sdpa_crosscheck.py  --list: the cells it would time, the bench's figures, the cells
//                             PyTorch's SDPA cannot express (paged, causal decode) skipped
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
