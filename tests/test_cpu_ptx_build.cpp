// CPU tests: every ptx/<arch>/*.ptx was preprocessed and assembled by `make` for its arch,
// with no spills, no stack frame, no ptxas warnings or "Performance Loss" notes (wgmma
// serialisation), registers and shared memory within the hardware limits. Reads the build
// outputs under $PTXFMHA_BUILD_DIR (tests/tests.mk builds them before running the tests).
// Also: the generated PTX has one statement per line (no line over 300 characters) and keeps
// source positions (.file/.loc), and tools/ptx_lines.py passes its self-test.
#include <doctest/doctest.h>

#include <cstdio>
#include <set>
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

// ---- generated PTX (build/ptx/<arch>/<name>.ptx, after tools/ptx_lines.py) -------------------
// The C preprocessor puts a macro's expansion on one line; the post-preprocessor step puts every
// statement on its own line and keeps source positions as .file/.loc directives, so that ptxas
// errors, Nsight Compute and compute-sanitizer point at lines, not at blobs of instructions.
namespace {
constexpr std::size_t kMaxGeneratedLineChars = 300;

// A line holding a statement after another one: text after a ';' other than a // comment.
bool two_statements(const std::string& line) {
  const std::size_t semi = line.find(';');
  if (semi == std::string::npos) return false;
  const std::size_t next = line.find_first_not_of(" \t", semi + 1);
  return next != std::string::npos && line.compare(next, 2, "//") != 0;
}
}  // namespace

TEST_CASE("generated PTX: one statement per line, no line over 300 characters, .loc positions") {
  const auto srcs = ptx_sources();
  REQUIRE(!srcs.empty());
  for (const auto& s : srcs) {
    const std::string pre = preprocessed_path(s.arch, s.name);
    CAPTURE(pre);
    bool ok = false;
    const std::string text = read_text_file(pre, &ok);
    REQUIRE_MESSAGE(ok, "missing preprocessed PTX " << pre << " (run make)");
    std::size_t longest = 0, longest_at = 0, lineno = 0, locs = 0;
    std::set<std::string> files, loc_files;
    std::string first_two;
    for (const std::string& line : split_lines(text)) {
      ++lineno;
      if (line.size() > longest) longest = line.size(), longest_at = lineno;
      if (first_two.empty() && two_statements(line)) first_two = std::to_string(lineno) + ": " + line;
      std::size_t k = line.find_first_not_of(' ');
      if (k == std::string::npos) continue;
      if (line.compare(k, 6, ".file ") == 0) files.insert(line.substr(k + 6, line.find(' ', k + 6) - k - 6));
      if (line.compare(k, 5, ".loc ") == 0) {
        ++locs;
        loc_files.insert(line.substr(k + 5, line.find(' ', k + 5) - k - 5));
      }
    }
    CHECK_MESSAGE(longest <= kMaxGeneratedLineChars,
                  pre << ":" << longest_at << " is " << longest << " characters long (limit " << kMaxGeneratedLineChars << ")");
    CHECK_MESSAGE(first_two.empty(), pre << " has two statements on line " << first_two);
    CHECK_MESSAGE(locs > 0, pre << " has no .loc directive: source positions are lost");
    for (const std::string& f : loc_files) CHECK_MESSAGE(files.count(f) == 1, pre << ": .loc names file " << f << " without a .file");
  }
}

TEST_CASE("tools/ptx_lines.py self-test: labels, '::', vector operands, wrapping, .file/.loc") {
  int rc = 0;
  const std::string out =
      run_command("python3 " + shell_quote(source_dir() + "/tools/ptx_lines.py") + " --self-test 2>&1", &rc);
  CHECK_MESSAGE(rc == 0, out);
}
