// GPU test (suite "gpu-fwd"): randomized shapes that also draw features, against the float64
// reference (the feature-drawing sibling of test_gpu_fwd_random.cpp).
//
// The seed is printed first; PTXFMHA_TEST_SEED=<n> replays a run, PTXFMHA_ATTN_TEST_SHAPES=<n>
// sets the number of shapes (default 150). Each shape draws: head dim (of the device's forward
// kernels), batch 1..4, fixed or variable-length Q, fixed / variable-length / paged K/V (page
// 16..256), seqused_k, lengths (short, around tile edges, log-uniform to 2000; 0 allowed for
// varlen), GQA 1..8, causal, a window (left, right or both), softcap, sinks, ALiBi, BSHD or
// BHSD per tensor group, padded rows, LSE on/off, the softmax scale. About one shape in five
// draws no feature (the plain path, which runs today). A failure prints the seed, the shape
// index and the whole shape.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "attn_util.h"

using namespace ptxfmha_test;

namespace {

int draw_len(std::mt19937_64& rng, bool allow_zero) {
  const int k = std::uniform_int_distribution<int>(0, 9)(rng);
  if (allow_zero && k == 0) return 0;
  if (k < 4) return std::uniform_int_distribution<int>(1, 160)(rng);
  if (k < 7) return std::max(1, 128 * std::uniform_int_distribution<int>(1, 8)(rng) +
                                    std::uniform_int_distribution<int>(-2, 2)(rng));
  return std::max(1, int(std::exp(std::uniform_real_distribution<double>(0.0, std::log(2000.0))(rng))));
}

}  // namespace

AttnCase ptxfmha_test::draw_attn_case(std::mt19937_64& rng, int d) {
  std::bernoulli_distribution coin(0.5);
  auto chance = [&rng](double p) { return std::bernoulli_distribution(p)(rng); };
  for (;;) {
    AttnCase c;
    c.head_dim = d;
    const int b = std::uniform_int_distribution<int>(1, 4)(rng);
    const bool plain = chance(0.2);
    c.varlen_q = !plain && chance(0.5);
    const int kmode = plain ? 0 : std::uniform_int_distribution<int>(0, 2)(rng);  // fixed, varlen, paged
    c.varlen_k = kmode == 1;
    if (kmode == 2) c.page_size = 16 << std::uniform_int_distribution<int>(0, 4)(rng);
    const int fq = draw_len(rng, false), fk = draw_len(rng, false);
    for (int i = 0; i < b; ++i) {
      c.lq.push_back(c.varlen_q ? draw_len(rng, true) : fq);
      c.lk.push_back(c.varlen_k ? draw_len(rng, true) : fk);
    }
    if (!plain && !c.varlen_k && chance(0.3))
      for (int i = 0; i < b; ++i) c.used.push_back(std::uniform_int_distribution<int>(0, c.lk[std::size_t(i)])(rng));
    c.heads_kv = std::uniform_int_distribution<int>(1, 3)(rng);
    const int ratios[] = {1, 1, 2, 4, 8};
    c.heads_q = c.heads_kv * ratios[std::uniform_int_distribution<int>(0, 4)(rng)];
    c.causal = coin(rng);
    if (!plain && chance(0.4)) {
      const int kind = std::uniform_int_distribution<int>(0, 2)(rng);
      const int w1 = std::uniform_int_distribution<int>(0, 300)(rng), w2 = std::uniform_int_distribution<int>(0, 300)(rng);
      if (kind != 1) c.window_left = w1;
      if (kind != 0 && !c.causal) c.window_right = w2;
    }
    if (!plain && chance(0.3)) c.softcap = chance(0.5) ? 5.0f : float(std::uniform_real_distribution<double>(1.0, 100.0)(rng));
    if (!plain && chance(0.3)) {
      std::uniform_real_distribution<double> s(-10.0, 10.0);
      for (int h = 0; h < c.heads_q; ++h) c.sinks.push_back(float(s(rng)));
    }
    if (!plain && chance(0.25)) c.slopes = alibi_slopes(c.heads_q);
    c.q_order = chance(0.3) ? Order::BHSD : Order::BSHD;
    c.kv_order = chance(0.3) ? Order::BHSD : Order::BSHD;
    c.row_pad = chance(0.3) ? 8 * std::uniform_int_distribution<int>(1, 3)(rng) : 0;
    c.with_lse = chance(0.8);
    if (chance(0.3))
      c.scale = float(std::uniform_real_distribution<double>(0.25, 2.0)(rng) / std::sqrt(double(d)));
    double macs = 0;
    for (int i = 0; i < b; ++i) macs += 2.0 * c.heads_q * double(c.lq[std::size_t(i)]) * c.lk[std::size_t(i)] * d;
    if (macs <= 1e8) return c;
  }
}

TEST_CASE("gpu attn: randomized shapes drawing features (seeded)" * doctest::test_suite("gpu-fwd")) {
  REQUIRE(ensure_context());
  const auto rows = testable_fwd_rows();
  REQUIRE(!rows.empty());
  uint64_t seed = 0;
  const std::string seed_env = env_or("PTXFMHA_TEST_SEED", "");
  if (!seed_env.empty()) seed = std::strtoull(seed_env.c_str(), nullptr, 0);
  else seed = (uint64_t(std::random_device{}()) << 32) ^ std::random_device{}();
  const int shapes = std::max(1, std::atoi(env_or("PTXFMHA_ATTN_TEST_SHAPES", "150").c_str()));
  std::printf("[ptxfmha-tests] attn randomized shapes: PTXFMHA_TEST_SEED=%llu PTXFMHA_ATTN_TEST_SHAPES=%d\n",
              static_cast<unsigned long long>(seed), shapes);
  std::fflush(stdout);
  std::mt19937_64 rng(seed);
  CaseTally t;
  for (int i = 0; i < shapes; ++i) {
    const ptxfmha::KernelInfo* row = rows[std::uniform_int_distribution<std::size_t>(0, rows.size() - 1)(rng)];
    const AttnCase c = draw_attn_case(rng, row->head_dim);
    const uint64_t data_seed = rng();
    const std::string context = "[PTXFMHA_TEST_SEED=" + std::to_string(seed) + " shape #" + std::to_string(i) + "]";
    t.add(run_attn_case("ptxfmha_attn d" + std::to_string(row->head_dim) + " (random)", c, data_seed, context,
                        Tolerance(), /*quiet=*/true));
  }
  MESSAGE("attn randomized shapes: " << t.str() << ", PTXFMHA_TEST_SEED=" << seed);
  CHECK(t.failed == 0);
}
