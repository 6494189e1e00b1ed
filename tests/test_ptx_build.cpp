// CPU tests: every ptx/<arch>/*.ptx was preprocessed and assembled by `make` for its arch,
// with no spills, no stack frame, no ptxas warnings or "Performance Loss" notes (wgmma
// serialisation), registers and shared memory within the hardware limits. Reads the build
// outputs under $PTXFMHA_BUILD_DIR (tests/tests.mk builds them before running the tests).
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "gpu_util.h"
#include "ptx_util.h"

using namespace ptxfmha_test;

namespace {
// Hopper and Blackwell: 227 KiB of shared memory per block (opt-in maximum), 64 Ki 32-bit
// registers per SM, at most 255 registers per thread.
constexpr long long kMaxSmemPerBlockBytes = 227 * 1024;
constexpr long long kRegistersPerSm = 64 * 1024;
constexpr long long kMaxRegistersPerThread = 255;
}  // namespace

TEST_CASE("ptx sources exist under ptx/<arch>/ for known architectures") {
  const auto srcs = ptx_sources();
  INFO("source dir: " << source_dir());
  REQUIRE_MESSAGE(!srcs.empty(), "no .ptx found under " << source_dir() << "/ptx/<arch>/");
  for (const auto& s : srcs) {
    CHECK_MESSAGE(!ptxas_target(s.arch).empty(),
                  s.path << ": folder '" << s.arch << "' is not an architecture the Makefile assembles");
  }
}

TEST_CASE("every .ptx assembles: cubin present, ptxas report clean, no spills, within limits") {
  const auto srcs = ptx_sources();
  REQUIRE(!srcs.empty());
  for (const auto& s : srcs) {
    CAPTURE(s.path);
    const std::string cubin = cubin_file(s.arch, s.name);
    bool ok = false;
    const std::string bin = read_text_file(cubin, &ok);
    CHECK_MESSAGE(ok, "missing cubin " << cubin << " (run make)");
    if (ok) {
      CHECK_MESSAGE(bin.size() > 64, cubin << " is " << bin.size() << " bytes");
      CHECK_MESSAGE(bin.compare(0, 4, "\x7f" "ELF") == 0, cubin << " is not an ELF file");
    }
    const std::string report_path = ptxas_report_path(s.arch, s.name);
    const std::string text = read_text_file(report_path, &ok);
    REQUIRE_MESSAGE(ok, "missing ptxas report " << report_path);
    const PtxasReport r = parse_ptxas_report(text);
    CAPTURE(report_path);

    // One kernel per file, named like the file, assembled for the folder's target.
    REQUIRE_MESSAGE(r.entries.size() == 1, s.path << ": ptxas compiled " << r.entries.size()
                                                  << " entry functions, expected exactly 1:\n" << text);
    CHECK(r.entries[0] == s.name);
    CHECK(r.targets[0] == ptxas_target(s.arch));
    CHECK_MESSAGE(r.problems.empty(), "ptxas printed warnings/errors:\n" << text);

    // No local memory: no spills and no stack frame.
    REQUIRE(r.spill_stores >= 0);
    CHECK_MESSAGE(r.spill_stores == 0, s.name << ": " << r.spill_stores << " bytes spill stores");
    CHECK_MESSAGE(r.spill_loads == 0, s.name << ": " << r.spill_loads << " bytes spill loads");
    CHECK_MESSAGE(r.stack_frame == 0, s.name << ": " << r.stack_frame << " bytes stack frame");

    // Registers: per thread, and per block (registers are allocated per warp in units of
    // 256, i.e. per thread rounded up to a multiple of 8).
    REQUIRE(r.registers > 0);
    CHECK(r.registers <= kMaxRegistersPerThread);
    const ptxfmha::KernelInfo* row = find_row(s.name);
    if (row != nullptr) {
      const long long per_thread = (r.registers + 7) / 8 * 8;
      CHECK_MESSAGE(per_thread * row->threads <= kRegistersPerSm,
                    s.name << ": " << r.registers << " registers x " << row->threads
                           << " threads does not fit one SM's register file");
      // Shared memory: static (from the report) plus the row's dynamic bytes.
      CHECK_MESSAGE(r.static_smem + row->smem_bytes <= kMaxSmemPerBlockBytes,
                    s.name << ": " << r.static_smem << " static + " << row->smem_bytes
                           << " dynamic shared memory bytes > 227 KiB");
    }
    MESSAGE(s.arch << "/" << s.name << ": " << r.registers << " registers, "
                   << (row ? row->smem_bytes : -1) << " + " << r.static_smem
                   << " bytes shared memory (dynamic + static), 0 spills");
  }
}
