// CPU tests over `cuobjdump -sass` of every cubin (test suite "sass": reported skipped when no
// cuobjdump is found; `make deps` installs one from PyPI).
//
// Contracts (what the kernels promise in machine code):
//   every kernel          no local memory traffic: no LDL / STL
//   sm90a forward         the matrix products run on the tensor cores as warpgroup MMA: HGMMA;
//                         O is staged through shared memory with stmatrix (STSM) and leaves
//                         through TMA stores (UTMASTG, cp.async.bulk.tensor global <- shared)
// Add a row to kContracts for new kernel families.
// Also: tools/sass_diff.py (tools/sass-diff.sh, the "no machine-code change" check of refactors)
// passes its self-test: it reports a changed instruction, control bits, resources or a missing
// kernel, and ignores line-info comments.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "gpu_util.h"
#include "ptx_util.h"

using namespace ptxfmha_test;
using ptxfmha::KernelInfo;
using ptxfmha::KernelKind;

namespace {

struct Contract {
  const char* arch;                    // nullptr = every arch
  bool fwd_only;                       // only KernelKind::Fwd rows
  std::vector<const char*> required;   // base opcodes that must appear
  std::vector<const char*> forbidden;  // base opcodes that must not appear
  const char* why;
};

const std::vector<Contract>& contracts() {
  static const std::vector<Contract> c = {
      {nullptr, false, {}, {"LDL", "STL"}, "no local memory (spills or stack arrays)"},
      {"sm90a", true, {"HGMMA"}, {}, "Hopper forward kernels use wgmma (HGMMA)"},
      {"sm90a", true, {"STSM"}, {}, "Hopper forward kernels stage O with stmatrix (STSM)"},
      {"sm90a", true, {"UTMASTG"}, {}, "Hopper forward kernels store O with TMA (UTMASTG)"},
  };
  return c;
}

}  // namespace

TEST_CASE("SASS contracts of every cubin (cuobjdump -sass)" * doctest::test_suite("sass")) {
  const std::string objdump = cuobjdump_path();
  REQUIRE(!objdump.empty());
  const auto rows = ptxfmha::all_kernels();
  REQUIRE(!rows.empty());
  for (const KernelInfo* r : rows) {
    const std::string name = r->name, arch = r->arch;
    CAPTURE(name);
    const auto fns = parse_sass(cubin_sass(objdump, arch, name));
    const SassFunction* fn = nullptr;
    for (const auto& f : fns)
      if (f.name == r->name) fn = &f;
    REQUIRE_MESSAGE(fn != nullptr, arch << "/" << name << ": no function " << name << " in the SASS");
    long long total = 0;
    for (const auto& kv : fn->opcodes) total += kv.second;
    CHECK_MESSAGE(total > 0, name << ": no instructions parsed from the SASS");

    for (const Contract& c : contracts()) {
      if (c.arch != nullptr && std::strcmp(c.arch, r->arch) != 0) continue;
      if (c.fwd_only && r->kind != KernelKind::Fwd) continue;
      const std::string why = c.why;  // std::string: doctest prints a const char* as a pointer
      for (const char* op_name : c.required) {
        const std::string op = op_name;
        auto it = fn->opcodes.find(op);
        CHECK_MESSAGE(it != fn->opcodes.end(), name << ": no " << op << " in the SASS (" << why << ")");
      }
      for (const char* op_name : c.forbidden) {
        const std::string op = op_name;
        auto it = fn->opcodes.find(op);
        CHECK_MESSAGE(it == fn->opcodes.end(),
                      name << ": " << (it == fn->opcodes.end() ? 0 : it->second) << " x " << op << " ("
                              << why << "), first: "
                              << (it == fn->opcodes.end() ? "" : fn->first_line.at(op)));
      }
    }
    auto count = [&](const char* op) {
      auto it = fn->opcodes.find(op);
      return it == fn->opcodes.end() ? 0LL : it->second;
    };
    MESSAGE(arch << "/" << name << ": " << total << " instructions, HGMMA " << count("HGMMA")
                 << ", UTCHMMA " << count("UTCHMMA") << ", LDL " << count("LDL") << ", STL "
                 << count("STL"));
  }
}

TEST_CASE("tools/sass_diff.py self-test: a changed instruction or a missing kernel is reported") {
  int rc = 0;
  const std::string out =
      run_command("python3 " + shell_quote(source_dir() + "/tools/sass_diff.py") + " --self-test 2>&1", &rc);
  CHECK_MESSAGE(rc == 0, out);
}
