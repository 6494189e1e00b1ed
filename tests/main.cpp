// doctest main of the ptx-fmha test binary.
//
// Before running, it probes the machine (CUDA device and architecture, cuobjdump) and
// excludes the test suites the machine cannot run (see tests/gpu_util.h), so doctest reports
// those test cases as skipped, never passed. It prints what it found and why it skipped, and
// after the run the worst error figures of the GPU tests.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "gpu_util.h"

int main(int argc, char** argv) {
  namespace t = ptxfmha_test;
  // Line-buffered even into a file or pipe, so a crash leaves the log up to the failing test.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  doctest::Context context;
  context.applyCommandLine(argc, argv);

  std::printf("[ptxfmha-tests] source dir: %s   build dir: %s   cubin dir: %s\n",
              t::source_dir().c_str(), t::build_dir().c_str(), ptxfmha_get_cubin_dir());
  const std::string objdump = t::cuobjdump_path();
  std::printf("[ptxfmha-tests] cuobjdump: %s\n", objdump.empty() ? "none" : objdump.c_str());
  const t::GpuProbe& g = t::gpu();
  if (g.present) {
    std::printf("[ptxfmha-tests] device: %s, compute capability %d.%d, %d SMs, kernels: %s\n",
                g.name.c_str(), g.info.cc_major, g.info.cc_minor, g.info.num_sms,
                g.info.arch ? g.info.arch : "none");
  } else {
    std::printf("[ptxfmha-tests] device: none (%s)\n", g.why.c_str());
  }
  for (const auto& s : t::unavailable_suites()) {
    std::printf("[ptxfmha-tests] skipping test suite '%s': %s\n", s.first.c_str(), s.second.c_str());
    context.addFilter("test-suite-exclude", s.first.c_str());
  }
  std::fflush(stdout);

  const int res = context.run();
  t::print_worst_summary(stdout);
  std::fflush(stdout);
  return res;
}
