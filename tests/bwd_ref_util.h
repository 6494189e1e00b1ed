// Helpers of the CPU tests of the float64 backward reference (tests/test_cpu_bwd_reference.cpp,
// tests/test_cpu_bwd_features.cpp): random float64 tensors and the loss L = sum(dO * O) whose
// finite differences the analytic gradients are checked against.
#pragma once
#include <cstddef>
#include <functional>
#include <random>
#include <vector>

#include "ptxfmha/reference.h"

namespace ptxfmha_test {

// n values ~ N(0, sigma^2).
inline std::vector<double> normal_f64(std::size_t n, std::mt19937_64& rng, double sigma = 1.0) {
  std::normal_distribution<double> nd(0.0, sigma);
  std::vector<double> x(n);
  for (double& v : x) v = nd(rng);
  return x;
}

// L = sum(dO * O) with O the float64 forward of rs (its features included); dense layouts, so
// O and dO share their indexing.
inline double fd_loss(const ptxfmha::RefBwdShape& rs, const std::vector<double>& q, const std::vector<double>& k,
                      const std::vector<double>& v, const std::vector<double>& dout) {
  std::vector<double> o, lse;
  ptxfmha::reference_fwd_f64(rs, q.data(), k.data(), v.data(), o, lse);
  double l = 0;
  for (std::size_t i = 0; i < o.size(); ++i) l += o[i] * dout[i];
  return l;
}

// The central difference (f(x_i + h) - f(x_i - h)) / 2h, x_i restored after.
inline double central_diff(std::vector<double>& x, std::size_t i, double h, const std::function<double()>& f) {
  const double x0 = x[i];
  x[i] = x0 + h;
  const double lp = f();
  x[i] = x0 - h;
  const double lm = f();
  x[i] = x0;
  return (lp - lm) / (2 * h);
}

}  // namespace ptxfmha_test
