// GPU test (suite "gpu-fwd"): randomized shapes and layouts against the float64 reference.
//
// The seed is printed first; PTXFMHA_TEST_SEED=<n> replays a run, PTXFMHA_TEST_SHAPES=<n>
// changes the number of shapes (default 300). Each shape draws batch, seqlen_q, seqlen_k,
// heads_q, heads_kv (GQA ratio 1..8), a head dim of the device's forward kernels, causal,
// softmax scale, LSE on/off, and per tensor a BSHD or BHSD order with padding between heads,
// rows and batches. A failure prints the seed, the shape index and the whole shape.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "gpu_util.h"

using namespace ptxfmha_test;

namespace {

int draw_seqlen(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> kind(0, 9);
  const int k = kind(rng);
  if (k < 4) return std::uniform_int_distribution<int>(1, 160)(rng);  // short, single tile
  if (k < 7) {                                                         // around tile edges
    const int tiles = std::uniform_int_distribution<int>(1, 8)(rng);
    return std::max(1, tiles * 128 + std::uniform_int_distribution<int>(-2, 2)(rng));
  }
  // log-uniform up to 2000
  const double x = std::uniform_real_distribution<double>(0.0, std::log(2000.0))(rng);
  return std::max(1, static_cast<int>(std::exp(x)));
}

Layout draw_layout(std::mt19937_64& rng, int batch, int seq, int heads, int d) {
  const Order order = std::bernoulli_distribution(0.3)(rng) ? Order::BHSD : Order::BSHD;
  std::uniform_int_distribution<int> pad(0, 3);
  // Pads are multiples of 8 elements (16 bytes), the library's stride rule; often zero.
  const bool padded = std::bernoulli_distribution(0.5)(rng);
  return make_layout(batch, seq, heads, d, order, padded ? 8 * pad(rng) : 0, padded ? 8 * pad(rng) : 0,
                     padded ? 8 * pad(rng) : 0);
}

}  // namespace

TEST_CASE("gpu fwd: randomized shapes, strides and layouts (seeded)" * doctest::test_suite("gpu-fwd")) {
  REQUIRE(ensure_context());
  const auto rows = testable_fwd_rows();
  REQUIRE(!rows.empty());

  uint64_t seed = 0;
  const std::string seed_env = env_or("PTXFMHA_TEST_SEED", "");
  if (!seed_env.empty()) seed = std::strtoull(seed_env.c_str(), nullptr, 0);
  else seed = (uint64_t(std::random_device{}()) << 32) ^ std::random_device{}();
  const int shapes = std::max(1, std::atoi(env_or("PTXFMHA_TEST_SHAPES", "300").c_str()));
  MESSAGE("randomized shapes: PTXFMHA_TEST_SEED=" << seed << " PTXFMHA_TEST_SHAPES=" << shapes);
  std::printf("[ptxfmha-tests] randomized shapes: PTXFMHA_TEST_SEED=%llu PTXFMHA_TEST_SHAPES=%d\n",
              static_cast<unsigned long long>(seed), shapes);
  std::fflush(stdout);

  std::mt19937_64 rng(seed);
  int failed = 0;
  for (int i = 0; i < shapes; ++i) {
    const ptxfmha::KernelInfo* row = rows[std::uniform_int_distribution<std::size_t>(0, rows.size() - 1)(rng)];
    FwdProblem p;
    // Redraw until the float64 reference stays cheap (about 1e8 multiply-adds at most).
    for (;;) {
      p.batch = std::uniform_int_distribution<int>(1, 3)(rng);
      p.seqlen_q = draw_seqlen(rng);
      p.seqlen_k = std::bernoulli_distribution(0.25)(rng) ? p.seqlen_q : draw_seqlen(rng);
      p.heads_kv = std::uniform_int_distribution<int>(1, 3)(rng);
      const int ratios[] = {1, 1, 2, 3, 4, 8};
      p.heads_q = p.heads_kv * ratios[std::uniform_int_distribution<int>(0, 5)(rng)];
      p.head_dim = row->head_dim;
      const double macs = 2.0 * p.batch * p.heads_q * double(p.seqlen_q) * p.seqlen_k * p.head_dim;
      if (macs <= 1e8) break;
    }
    p.causal = std::bernoulli_distribution(0.5)(rng);
    p.with_lse = std::bernoulli_distribution(0.8)(rng);
    // Mostly 1/sqrt(d); sometimes another positive scale (0.25x .. 2x).
    if (std::bernoulli_distribution(0.3)(rng))
      p.softmax_scale = static_cast<float>(std::uniform_real_distribution<double>(0.25, 2.0)(rng) /
                                           std::sqrt(double(p.head_dim)));
    p.q = draw_layout(rng, p.batch, p.seqlen_q, p.heads_q, p.head_dim);
    p.k = draw_layout(rng, p.batch, p.seqlen_k, p.heads_kv, p.head_dim);
    p.v = draw_layout(rng, p.batch, p.seqlen_k, p.heads_kv, p.head_dim);
    p.o = draw_layout(rng, p.batch, p.seqlen_q, p.heads_q, p.head_dim);
    const uint64_t data_seed = rng();

    const FwdHostInputs in = random_inputs(p, data_seed);
    const FwdReference ref = reference(p, in);
    const std::string context = "[PTXFMHA_TEST_SEED=" + std::to_string(seed) + " shape #" + std::to_string(i) + "]";
    if (!run_and_check(std::string(row->name) + " (random)", p, in, ref, context, Tolerance(), /*quiet=*/true))
      ++failed;
  }
  MESSAGE("randomized shapes: " << shapes << " shapes, " << failed << " failed, PTXFMHA_TEST_SEED=" << seed);
}
