// CPU tests of the command-line tools that run without a GPU: tools/ncu_stalls.py
// summarises an Nsight Compute source-page CSV (tools/ncu-stalls.sh). A synthetic CSV with
// the columns ncu 2025+ writes stands in for a real report. ptxfmha_bench's option
// --ptxfmha_fwd_kernel looks rows up with forward_row_named (bench_util, linked here).
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "bench_util.h"
#include "gpu_util.h"
#include "kernel_table.h"
#include "runtime.h"
#include "ptx_util.h"

using namespace ptxfmha_test;

namespace {
std::string write_temp(const std::string& text) {
  char path[] = "/tmp/ptxfmha-ncu-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path) << text;
  return path;
}
std::string run_ncu_stalls(const std::string& csv, int* rc) {
  const std::string script = source_dir() + "/tools/ncu_stalls.py";
  REQUIRE_MESSAGE(file_exists(script), script << " missing");
  return run_command("python3 " + shell_quote(script) + " " + shell_quote(csv) + " 2>&1", rc);
}
}  // namespace

TEST_CASE("tools/ncu_stalls.py: offsets from the function start, shares, stall reasons") {
  const std::string csv = write_temp(
      "==PROF== a preamble line ncu prints\n"
      "\"Address\",\"Source\",\"Warp Stall Sampling (All Samples)\",\"stall_barrier\","
      "\"stall_long_sb\",\"stall_barrier (Not Issued)\"\n"
      "\"0x7f0000001000\",\"  MOV R1, c[0x0][0x28]\",\"0\",\"0\",\"0\",\"0\"\n"
      "\"0x7f0000001010\",\"  HGMMA.64x128x16.F32.BF16 R24, gdesc[UR20], RZ, !UPT\",\"1,500\",\"1,200\",\"300\",\"9\"\n"
      "\"0x7f0000001020\",\"  @!P0  BRA 0x7f0000001010\",\"500\",\"0\",\"500\",\"0\"\n");
  int rc = 0;
  const std::string out = run_ncu_stalls(csv, &rc);
  std::remove(csv.c_str());
  CAPTURE(out);
  REQUIRE(rc == 0);
  CHECK(out.find("3 instructions, 2000 samples") != std::string::npos);
  // the HGMMA first (75% of the samples), at offset 0x10 from the first instruction
  const auto hgmma = out.find("0x00010  75.0%  barrier 80%, long_sb 20%");
  const auto bra = out.find("0x00020  25.0%  long_sb 100%");
  CHECK(hgmma != std::string::npos);
  CHECK(bra != std::string::npos);
  CHECK(hgmma < bra);
  CHECK(out.find("barrier (Not Issued)") == std::string::npos);  // issued-only reasons listed
  CHECK(out.find("long_sb               40.0%") != std::string::npos);
  CHECK(out.find("barrier               60.0%") != std::string::npos);
}

TEST_CASE("tools/ncu_stalls.py: a file that is not a source-page CSV is an error") {
  const std::string csv = write_temp("Duration,us,12\n");
  int rc = 0;
  const std::string out = run_ncu_stalls(csv, &rc);
  std::remove(csv.c_str());
  CAPTURE(out);
  CHECK(rc != 0);
  CHECK(out.find("no 'Address'/'Source' header") != std::string::npos);
}

TEST_CASE("ptxfmha_bench --ptxfmha_fwd_kernel: forward rows by name, anything else refused") {
  for (const ptxfmha::KernelInfo* r : ptxfmha::all_kernels()) {
    CAPTURE(r->name);
    const ptxfmha::KernelInfo* found = ptxfmha_bench::forward_row_named(r->name);
    if (r->kind == ptxfmha::KernelKind::Fwd)
      CHECK(found == r);
    else
      CHECK(found == nullptr);  // decode and combine rows are not forward kernels
  }
  CHECK(ptxfmha_bench::forward_row_named("fmha_fwd_d96_sm90a") == nullptr);
  CHECK(ptxfmha_bench::forward_row_named("") == nullptr);
  CHECK(ptxfmha_bench::forward_row_named("fmha_fwd_d128_sm90a") != nullptr);
}
