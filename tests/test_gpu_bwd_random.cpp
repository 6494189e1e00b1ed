// GPU test (suite "gpu-sm90a"): the attention backward on randomized shapes and layouts against
// the float64 reference gradients (bounds and checks as tests/test_gpu_bwd.cpp).
//
// The seed is printed first; PTXFMHA_TEST_SEED=<n> replays a run, PTXFMHA_BWD_TEST_SHAPES=<n>
// sets the number of shapes (default 60). Each shape draws batch, seqlen_q, seqlen_k (odd
// lengths, tile edges, seqlen_q != seqlen_k), heads_kv and a GQA ratio of 1, 2, 4 or 8, a head
// dim of the device's backward kernels, causal, deterministic, the softmax scale, and per
// tensor (Q, K, V, O, dO, dQ, dK, dV) a BSHD or BHSD order with padding. A failure prints the
// seed, the shape index and the whole shape.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "bwd_test_util.h"

using namespace ptxfmha_test;

namespace {

int draw_len(std::mt19937_64& rng) {
  const int k = std::uniform_int_distribution<int>(0, 9)(rng);
  if (k < 4) return std::uniform_int_distribution<int>(1, 160)(rng);
  if (k < 7) return std::max(1, std::uniform_int_distribution<int>(1, 6)(rng) * 64 + std::uniform_int_distribution<int>(-2, 2)(rng));
  const double x = std::uniform_real_distribution<double>(0.0, std::log(1200.0))(rng);
  return std::max(1, static_cast<int>(std::exp(x)));
}

Layout draw_layout(std::mt19937_64& rng, int batch, int seq, int heads, int d) {
  const Order order = std::bernoulli_distribution(0.3)(rng) ? Order::BHSD : Order::BSHD;
  std::uniform_int_distribution<int> pad(0, 3);
  const bool padded = std::bernoulli_distribution(0.5)(rng);
  return make_layout(batch, seq, heads, d, order, padded ? 8 * pad(rng) : 0, padded ? 8 * pad(rng) : 0,
                     padded ? 8 * pad(rng) : 0);
}

}  // namespace

TEST_CASE("gpu bwd: randomized shapes, strides and layouts (seeded)" * doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  const auto dims = bwd_head_dims();
  REQUIRE(!dims.empty());
  uint64_t seed = 0;
  const std::string seed_env = env_or("PTXFMHA_TEST_SEED", "");
  if (!seed_env.empty()) seed = std::strtoull(seed_env.c_str(), nullptr, 0);
  else seed = (uint64_t(std::random_device{}()) << 32) ^ std::random_device{}();
  const int shapes = std::max(1, std::atoi(env_or("PTXFMHA_BWD_TEST_SHAPES", "60").c_str()));
  std::printf("[ptxfmha-tests] bwd randomized shapes: PTXFMHA_TEST_SEED=%llu PTXFMHA_BWD_TEST_SHAPES=%d\n",
              static_cast<unsigned long long>(seed), shapes);
  std::fflush(stdout);
  std::mt19937_64 rng(seed);
  int failed = 0;
  for (int i = 0; i < shapes; ++i) {
    BwdProblem p;
    p.head_dim = dims[std::uniform_int_distribution<std::size_t>(0, dims.size() - 1)(rng)];
    for (;;) {  // keep the float64 reference cheap (about 3e8 multiply-adds at most)
      p.batch = std::uniform_int_distribution<int>(1, 3)(rng);
      p.seqlen_q = draw_len(rng);
      p.seqlen_k = std::bernoulli_distribution(0.25)(rng) ? p.seqlen_q : draw_len(rng);
      p.heads_kv = std::uniform_int_distribution<int>(1, 3)(rng);
      const int ratios[] = {1, 2, 4, 8};
      p.heads_q = p.heads_kv * ratios[std::uniform_int_distribution<int>(0, 3)(rng)];
      if (6.0 * p.batch * p.heads_q * double(p.seqlen_q) * p.seqlen_k * p.head_dim <= 3e8) break;
    }
    p.causal = std::bernoulli_distribution(0.5)(rng);
    p.deterministic = std::bernoulli_distribution(0.5)(rng);
    if (std::bernoulli_distribution(0.3)(rng))
      p.softmax_scale = static_cast<float>(std::uniform_real_distribution<double>(0.25, 2.0)(rng) /
                                           std::sqrt(double(p.head_dim)));
    p.q = draw_layout(rng, p.batch, p.seqlen_q, p.heads_q, p.head_dim);
    p.o = draw_layout(rng, p.batch, p.seqlen_q, p.heads_q, p.head_dim);
    p.dout = draw_layout(rng, p.batch, p.seqlen_q, p.heads_q, p.head_dim);
    p.dq = draw_layout(rng, p.batch, p.seqlen_q, p.heads_q, p.head_dim);
    p.k = draw_layout(rng, p.batch, p.seqlen_k, p.heads_kv, p.head_dim);
    p.v = draw_layout(rng, p.batch, p.seqlen_k, p.heads_kv, p.head_dim);
    p.dk = draw_layout(rng, p.batch, p.seqlen_k, p.heads_kv, p.head_dim);
    p.dv = draw_layout(rng, p.batch, p.seqlen_k, p.heads_kv, p.head_dim);
    const BwdHostInputs in = bwd_inputs(p, rng());
    const BwdReference ref = bwd_reference(p, in);
    BwdDeviceCase dc(p, in);
    BwdOutputs a, b;
    dc.run(&a, true);
    const BwdFigures f = evaluate_bwd(p, a, ref);
    std::string why = bwd_failure(p, f);
    const ptxfmha::KernelInfo* row = ptxfmha::find_kernel(gpu().info.sm, ptxfmha::KernelKind::Bwd, p.head_dim);
    const WorkspaceFigures w = evaluate_workspace(p, in, ref, a.ws, *row);
    if (!w.first.empty()) why += "workspace: " + w.first + "; ";
    dc.run(&b);
    if (!a.same_bits(b, p.deterministic)) why += "two runs differ bitwise; ";
    if (!why.empty()) ++failed;
    CHECK_MESSAGE(why.empty(), "[PTXFMHA_TEST_SEED=" << seed << " shape #" << i << "] " << describe(p) << ": " << why);
  }
  MESSAGE("bwd randomized shapes: " << shapes << " shapes, " << failed << " failed, PTXFMHA_TEST_SEED=" << seed);
}
