// The decode split kernels' per-CTA clock (ptx/body/sm90_decode/cta_trace.ptxh, bench/cta_trace.h,
// `ptxfmha decode-trace`):
//   - bad options are refused by name before the driver is touched (CPU);
//   - the traced d256 cubin reads the timer at SETUP and EXIT and raises the record's end with
//     one 64-bit max reduction, the shipped one reads no timer at all (sass);
//   - on an sm90a GPU: a traced d256 call writes one valid record per CTA of its grid (gpu).
#include <doctest/doctest.h>

#include <string>

#include "context.h"
#include "cta_trace.h"
#include "gpu_util.h"
#include "ptx_util.h"

using ptxfmha_bench::DecodeTraceOptions;
using ptxfmha_bench::DecodeTraceRun;
using namespace ptxfmha_test;

TEST_CASE("decode-trace: bad options are refused by name before the driver is touched") {
  DecodeTraceOptions ok;
  ok.cell = "decode/d256/b1/kv8192/hq32hkv8/q1/contig";
  ok.splits = 4;
  ptxfmha_bench::Case c;
  REQUIRE(ptxfmha_bench::decode_trace_case(ok, &c).empty());
  CHECK(c.head_dim == 256);
  CHECK(c.seqlen_k == 8192);
  CHECK_FALSE(c.paged());
  auto why = [&](DecodeTraceOptions o) {
    const std::string named = ptxfmha_bench::decode_trace_case(o, &c);
    DecodeTraceRun run;
    CHECK(ptxfmha_bench::run_decode_trace(o, &run) == named);  // the same words, no launch
    CHECK(run.records.empty());
    return named;
  };
  DecodeTraceOptions o = ok;
  o.splits = 1;
  CHECK(why(o).find("splits: 1") != std::string::npos);
  o = ok;
  o.reps = 0;
  CHECK(why(o).find("reps: 0") != std::string::npos);
  o = ok;
  o.cell = "decode/d256/b1/kv8192/hq32hkv8/q1/page32";
  CHECK(why(o).find("cell: 'decode/d256/b1/kv8192/hq32hkv8/q1/page32'") != std::string::npos);
  o = ok;
  o.cell = "decode/d256/b1/kv8192/hq32hkv8/q1/page64";  // a paged cell is a cell
  CHECK(ptxfmha_bench::decode_trace_case(o, &c).empty());
  CHECK(c.page_size == 64);
}

TEST_CASE("decode-trace: the traced d256 split kernel's SASS reads the timer twice, the shipped one never" *
          doctest::test_suite("sass")) {
  const std::string traced = build_dir() + "/cubin-trace/sm90a/fmha_decode_d256_sm90a.cubin";
  const std::string shipped = build_dir() + "/cubin/sm90a/fmha_decode_d256_sm90a.cubin";
  REQUIRE_MESSAGE(file_exists(traced), "missing " << traced << " (make cubin-trace, or make test)");
  REQUIRE_MESSAGE(file_exists(shipped), "missing " << shipped << " (make)");
  auto sass_of = [](const std::string& cubin) {
    int rc = 0;
    const std::string s = run_command(shell_quote(cuobjdump_path()) + " -sass " + shell_quote(cubin) + " 2>&1", &rc);
    REQUIRE(rc == 0);
    return s;
  };
  auto count = [](const std::string& sass, const std::string& what) {
    long long n = 0;
    for (std::size_t at = sass.find(what); at != std::string::npos; at = sass.find(what, at + 1)) ++n;
    return n;
  };
  const std::string t = sass_of(traced), s = sass_of(shipped);
  CHECK(count(t, "SR_GLOBALTIMER") == 2);          // CTA_TRACE_START, CTA_TRACE_END
  CHECK(count(t, "REDG.E.MAX.64") == 1);           // the end: the latest warp's
  CHECK(count(t, "SR_VIRTUALSMID") == 1);          // %smid
  CHECK(count(s, "SR_GLOBALTIMER") == 0);
  CHECK(count(s, "REDG.E.MAX.64") == 0);
  CHECK(count(s, "SR_VIRTUALSMID") == 0);
}

TEST_CASE("gpu decode-trace: a traced d256 call writes one valid record per CTA" * doctest::test_suite("gpu")) {
  REQUIRE(ensure_context());
  ptxfmha::DeviceInfo dev;
  REQUIRE(ptxfmha::acquire_context(&dev) == PTXFMHA_OK);
  if (dev.arch == nullptr || std::string(dev.arch) != "sm90a") {
    MESSAGE("skipped: the traced kernels are built for sm90a");
    return;
  }
  const std::string dir = build_dir() + "/cubin-trace";
  REQUIRE_MESSAGE(file_exists(dir + "/sm90a/fmha_decode_d256_sm90a.cubin"), "missing " << dir << " (make cubin-trace)");
  const std::string before = ptxfmha_get_cubin_dir();
  REQUIRE(ptxfmha_set_cubin_dir(dir.c_str()) == PTXFMHA_OK);
  DecodeTraceOptions o;
  o.cell = "decode/d256/b1/kv8192/hq32hkv8/q1/contig";
  o.splits = 4;
  o.reps = 3;
  DecodeTraceRun r;
  const std::string why = ptxfmha_bench::run_decode_trace(o, &r);
  ptxfmha_set_cubin_dir(before.c_str());
  INFO(why);
  REQUIRE(why.empty());
  CHECK(r.kernel == "fmha_decode_d256_sm90a");
  CHECK(r.grid[0] == 8);  // 8 KV heads, one m-group
  CHECK(r.grid[1] == 4);
  CHECK(r.grid[2] == 1);
  CHECK(r.records.size() == 32);
  CHECK(r.summary.valid);
  CHECK(r.summary.sms_used == 32);  // one CTA per SM at this shared memory
  for (const auto& rec : r.records) CHECK(rec.end_ns > rec.start_ns);
  CHECK(r.launch_ms > 0.0);
  // And the shipped cubins write no record: the run says so, naming the traced cubins.
  DecodeTraceRun shipped;
  const std::string none = ptxfmha_bench::run_decode_trace(o, &shipped);
  CHECK(none.find("no valid record") != std::string::npos);
  CHECK(none.find("cubin-trace") != std::string::npos);
}
