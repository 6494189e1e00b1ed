// "sm100a performance model": runs tools/perf_model.py (docs/perf_model.md) on the CPU and checks
// that its Hopper calibration predicts every measured H200 cell (bench/results/h200-2026-11-25-v15)
// within 10%, that it predicts every B200 cell of the FA3 grid for both sm100a kernel families,
// that the design target holds in the model (>= 1600 TFLOPS at hd128 non-causal 16k, >= 1.1x the
// `_serial` kernels everywhere), and that its design numbers (Q tiles, tile sizes, the exp2 split
// it chose) are the ones of tests/sm100_model/design.h. The check itself can fail: a fitted
// parameter scaled by 3 must break the calibration bound. Reported skipped without python3.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include "ptx_util.h"
#include "sm100_model/design.h"

namespace {

bool python3_available() { return std::system("command -v python3 >/dev/null 2>&1") == 0; }

std::string script() { return ptxfmha_test::source_dir() + "/tools/perf_model.py"; }

}  // namespace

TEST_CASE("sm100a performance model: Hopper calibration within 10%, B200 predictions for every cell, design target" *
          doctest::skip(!python3_available())) {
  char tmpl[] = "/tmp/ptxfmha_perf_model_XXXXXX";
  const int fd = mkstemp(tmpl);
  REQUIRE(fd >= 0);
  close(fd);
  const std::string facts = tmpl;
  int rc = 0;
  const std::string out = ptxfmha_test::run_command("python3 " + ptxfmha_test::shell_quote(script()) + " --check --facts " +
                                                        ptxfmha_test::shell_quote(facts) + " 2>&1",
                                                    &rc);
  INFO(out);
  CHECK(rc == 0);
  std::ifstream in(facts);
  std::string line;
  int calib = 0, b200 = 0, designs = 0;
  double worst = 0, target16k = 0, min_ratio = 0;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string kind;
    ls >> kind;
    if (kind == "calibration") {
      int d, c, s;
      double pred, meas, err;
      ls >> d >> c >> s >> pred >> meas >> err;
      ++calib;
      CHECK_MESSAGE(std::fabs(pred - meas) <= 0.10 * meas, "H200 d" << d << (c ? " causal" : " non-causal") << " s" << s << ": model " << pred << ", measured " << meas);
      worst = std::max(worst, std::fabs(err));
    } else if (kind == "b200") {
      int d, c, s;
      double ser, nw;
      ls >> d >> c >> s >> ser >> nw;
      ++b200;
      CHECK_MESSAGE((ser > 0 && nw > 0 && std::isfinite(ser) && std::isfinite(nw)), "B200 d" << d << " s" << s);
      CHECK_MESSAGE(nw >= 1.1 * ser, "B200 d" << d << (c ? " causal" : " non-causal") << " s" << s << ": new " << nw << " < 1.1 x serial " << ser);
    } else if (kind == "design") {
      int d, qt, bm, bn, poly;
      ls >> d >> qt >> bm >> bn >> poly;
      ++designs;
      bool found = false;
      for (const sm100_design::FwdDesign* x : sm100_design::kDesigns) {
        if (x->head_dim != d) continue;
        found = true;
        CHECK(x->q_tiles == qt);
        CHECK(x->block_m == bm);
        CHECK(x->block_n == bn);
        CHECK_MESSAGE(x->ex2_poly_cols_per_32 == poly, "hd" << d << ": design.h splits exp2 " << x->ex2_poly_cols_per_32 << "/32, the model chose " << poly << "/32");
      }
      CHECK(found);
    } else if (kind == "target") {
      ls >> target16k >> min_ratio;
    }
  }
  std::remove(facts.c_str());
  CHECK(calib == 36);
  CHECK(b200 == 36);
  CHECK(designs == 3);
  CHECK(target16k >= 1600.0);
  CHECK(min_ratio >= 1.1);
  MESSAGE("perf model: H200 calibration worst error " << 100 * worst << "% over " << calib << " cells; B200 hd128 non-causal 16k "
                                                      << target16k << " TFLOPS (new), min new/serial " << min_ratio);
  // The calibration bound can fail: a fitted latency tripled.
  int rc2 = 0;
  const std::string out2 =
      ptxfmha_test::run_command("python3 " + ptxfmha_test::shell_quote(script()) + " --check --perturb handoff_cycles=3 --facts /dev/null 2>&1", &rc2);
  CHECK_MESSAGE(rc2 != 0, "a perturbed model passed the calibration check: " << out2);
}
