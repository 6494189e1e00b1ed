// CPU tests of the GPU suites' machinery (tests/attn_util.h), so a GPU run can trust what it
// reports:
//   - the missing-kernel switch: the expectations in attn_util.h equal the library's
//     attn_supported_features() for every arch (phase 2 must raise both together; after that
//     an UNSUPPORTED_FEATURE for an expected feature fails instead of skipping);
//   - host data in every layout leaves the cells nobody may read as NaN and the reference
//     never touches them;
//   - the LSE bound's logit_mag term (the e4m3 cache's, ptxfmha.h) widens it by exactly
//     Tolerance::lse_mag times the row's logit_mag;
//   - evaluate_attn passes a perfect result and catches each kind of wrong one (a wrong
//     element, with its position; a row left unwritten; a row nobody owns written; NaN; a
//     -inf LSE mismatch; padding written).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "attn_util.h"
#include "validate_attn.h"
#include "validate_fixtures.h"

using namespace ptxfmha_test;

namespace {

float f32_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// What a perfect kernel writes: bf16(ref O) and fp32(ref LSE) on rows one sequence owns,
// nothing elsewhere (poison stays).
AttnOutputs perfect(const AttnCase& c, const AttnHost& h, const ptxfmha::RefAttnResult& ref) {
  AttnOutputs out;
  out.o.assign(std::size_t(h.o.elems), kPoisonBf16);
  if (c.with_lse) out.lse.assign(std::size_t(h.q_rows * c.heads_q), f32_bits(kPoisonF32));
  for (int64_t row = 0; row < h.q_rows; ++row) {
    if (ref.writers[std::size_t(row)] != 1) continue;
    for (int hh = 0; hh < c.heads_q; ++hh) {
      for (int d = 0; d < c.head_dim; ++d) {
        const long long di = (row * c.heads_q + hh) * (long long)c.head_dim + d;
        out.o[std::size_t(attn_o_elem(c, h, di))] = ptxfmha::float_to_bf16(float(ref.o[std::size_t(di)]));
      }
      if (c.with_lse) {
        const std::size_t l = c.varlen_q ? std::size_t(hh) * h.total_q + row
                                         : (std::size_t(row / h.seqlen_q) * c.heads_q + hh) * h.seqlen_q + row % h.seqlen_q;
        out.lse[l] = float(ref.lse[l]);
      }
    }
  }
  return out;
}

std::vector<AttnCase> cases() {
  std::vector<AttnCase> v;
  AttnCase a = attn_case({5, 0, 17, 1}, {9, 3, 17, 0}, 4, 2, 32);  // varlen, empty sequences
  a.varlen_q = a.varlen_k = true;
  a.causal = true;
  a.window_left = 4;
  a.sinks = {0.5f, -1.0f, 3.0f, 0.0f};
  a.q_order = Order::BHSD;
  v.push_back(a);
  AttnCase b = attn_case({7, 7, 7}, {40, 40, 40}, 8, 2, 16);  // varlen Q over a paged pool
  b.varlen_q = true;
  b.page_size = 16;
  b.used = {40, 3, 0};
  b.kv_order = Order::BHSD;
  b.softcap = 5.0f;
  b.slopes = alibi_slopes(8);
  v.push_back(b);
  AttnCase f = attn_case({9, 9}, {30, 30}, 2, 1, 16);  // fixed with seqused_k
  f.used = {12, 30};
  f.window_left = 3;
  f.window_right = 2;
  f.with_lse = false;
  v.push_back(f);
  AttnCase g = attn_case({4, 4, 4}, {5, 5, 5}, 1, 1, 8);  // garbage metadata: overlaps, holes
  g.varlen_q = g.varlen_k = true;
  g.cu_q_override = {0, 6, 2, 12};  // seq 1 clamped empty, seq 2 rows 2..5 overlap seq 0
  g.cu_k_override = {0, 99, -1, 15};
  v.push_back(g);
  return v;
}

}  // namespace

TEST_CASE("attn util: the missing-kernel expectations equal the library's feature support") {
  for (int sm : {90, 100, 103}) {
    CAPTURE(sm);
    CHECK_MESSAGE(expected_attn_features(sm) == ptxfmha::attn_supported_features(sm),
                  "the kernel table's prefill features changed: update expected_attn_features in tests/attn_util.h");
    CHECK_MESSAGE(expected_decode_attn_features(sm) == ptxfmha::decode_attn_supported_features(sm),
                  "the kernel table's decode features changed: update expected_decode_attn_features");
  }
}

TEST_CASE("attn util: host data, reference and evaluation agree on a perfect result") {
  uint64_t seed = 99;
  for (const AttnCase& c : cases()) {
    CAPTURE(describe(c));
    const AttnHost h = make_attn_host(c, seed++);
    const ptxfmha::RefAttnResult ref = attn_reference(h);
    // The reference reads only visible keys: NaN cells (past seqused_k, spare pages) never
    // reach a row that one sequence owns.
    for (std::size_t row = 0; row < ref.writers.size(); ++row) {
      if (ref.writers[row] != 1) continue;
      for (int hh = 0; hh < c.heads_q; ++hh)
        for (int d = 0; d < c.head_dim; ++d)
          REQUIRE(std::isfinite(ref.o[(row * c.heads_q + hh) * c.head_dim + d]));
    }
    const AttnOutputs good = perfect(c, h, ref);
    const AttnFigures f = evaluate_attn(c, h, ref, good);
    std::string why;
    CHECK_MESSAGE(attn_within_bounds(c, h, f, good, ref, Tolerance(), &why), why);
    CHECK(f.rows_checked > 0);
  }
  // The paged case really has NaN cells and garbage columns (the kernels must not read them).
  const AttnCase b = cases()[1];
  const AttnHost h = make_attn_host(b, 5);
  long long nan_cells = 0;
  for (uint16_t x : h.hk) nan_cells += x == kNaNBf16;
  CHECK(nan_cells > 0);
  CHECK(h.table.size() == std::size_t(b.batch()) * h.mbps);
  CHECK(std::count(h.table.begin(), h.table.end(), -1) > 0);
}

TEST_CASE("attn util: evaluate_attn catches each kind of wrong result, with its position") {
  const std::vector<AttnCase> all = cases();
  const AttnCase& c = all[0];  // varlen, BHSD Q, sinks, window
  const AttnHost h = make_attn_host(c, 1);
  const ptxfmha::RefAttnResult ref = attn_reference(h);
  const AttnOutputs good = perfect(c, h, ref);
  auto fails = [&](const AttnOutputs& bad, const char* needle) {
    const AttnFigures f = evaluate_attn(c, h, ref, bad);
    std::string why;
    CHECK(!attn_within_bounds(c, h, f, bad, ref, Tolerance(), &why));
    CAPTURE(why);
    CHECK(why.find(needle) != std::string::npos);
    return f;
  };
  // Packed row 22 = sequence 2 (rows 5..21)? cu_q = {0, 5, 5, 22, 23}: row 21 is seq 2 row 16.
  const long long di = (21LL * c.heads_q + 3) * c.head_dim + 7;
  AttnOutputs bad = good;
  bad.o[std::size_t(attn_o_elem(c, h, di))] = ptxfmha::float_to_bf16(float(ref.o[std::size_t(di)]) + 0.5f);
  AttnFigures f = fails(bad, "(seq 2 row 16 packed row 21 head 3 d 7)");
  CHECK(f.o_first_bad == di);
  bad = good;
  bad.o[std::size_t(attn_o_elem(c, h, 0))] = kPoisonBf16;
  fails(bad, "never written");
  bad = good;
  bad.o[std::size_t(attn_o_elem(c, h, 5))] = 0x7FC0;  // NaN
  fails(bad, "NaN");
  bad = good;
  bad.lse[1] = 0.0f;
  fails(bad, "first LSE row");
  // a row that sees no key (sequence 3 has no key; its head-3 sink is 0, so LSE = 0, not
  // -inf) must still have O exactly 0, even within the element tolerance
  bad = good;
  const long long empty_di = (22LL * c.heads_q + 3) * c.head_dim;  // packed row 22 = seq 3 row 0
  REQUIRE(ref.lse[std::size_t(3) * h.total_q + 22] == 0.0);
  REQUIRE(ref.visible[22] == 0);
  bad.o[std::size_t(attn_o_elem(c, h, empty_di))] = ptxfmha::float_to_bf16(1e-3f);
  fails(bad, "rows that see no key are not 0");
  // padding between rows written
  AttnCase pc = attn_case({3, 3}, {5, 5}, 2, 2, 8);
  pc.row_pad = 8;
  const AttnHost ph = make_attn_host(pc, 4);
  const ptxfmha::RefAttnResult pr = attn_reference(ph);
  AttnOutputs pad = perfect(pc, ph, pr);
  pad.o[std::size_t(8)] = 0;  // element 8 of row (0, 0, head 0) is padding (head_dim 8)
  const AttnFigures pf = evaluate_attn(pc, ph, pr, pad);
  CHECK(pf.pad_clobbered == 1);
  // rows no sequence owns must stay poisoned
  const AttnCase& g = all[3];  // garbage metadata: rows 6..11 belong to no sequence
  const AttnHost hg = make_attn_host(g, 2);
  const ptxfmha::RefAttnResult rg = attn_reference(hg);
  REQUIRE(rg.writers[11] == 0);
  AttnOutputs ghost = perfect(g, hg, rg);
  {
    const AttnFigures ok = evaluate_attn(g, hg, rg, ghost);
    std::string why;
    CHECK_MESSAGE(attn_within_bounds(g, hg, ok, ghost, rg, Tolerance(), &why), why);
  }
  ghost.o[std::size_t(attn_o_elem(g, hg, 11LL * g.head_dim))] = 0;
  const AttnFigures fg = evaluate_attn(g, hg, rg, ghost);
  CHECK(fg.ghost_written == 1);
  std::string why;
  CHECK(!attn_within_bounds(g, hg, fg, ghost, rg, Tolerance(), &why));
  CHECK(why.find("no sequence owns") != std::string::npos);
}

TEST_CASE("attn util: sampled reference rows: the skipped rows are still checked, the sampled ones fully") {
  // 2 sequences of 700 rows, 2 heads, head dim 32: work 1400 x 700 x 2 x 32 = 6.3e7; a budget
  // of 1e7 samples the first and last 160 rows of each and every 7th row in between.
  AttnCase c = attn_case({700, 700}, {700, 700}, 2, 1, 32);
  c.varlen_q = c.varlen_k = true;
  c.causal = true;
  c.lq[1] = 650;  // row 700 + 649 is the last
  c.lk[1] = 640;  // rows 0..9 of sequence 1 see no key (causal, bottom-right)
  AttnHost h = make_attn_host(c, 21);
  const ptxfmha::RefAttnResult full = attn_reference(h);
  sample_reference_rows(c, &h, 21, 1e7);
  REQUIRE(h.ref.row_mask.size() == std::size_t(h.q_rows));
  const long long kept = std::count(h.ref.row_mask.begin(), h.ref.row_mask.end(), uint8_t(1));
  CHECK(kept <= 4 * 160 + h.q_rows / 7 + 2);  // the edges and every 7th row
  CHECK(h.ref.row_mask[0] == 1);
  CHECK(h.ref.row_mask[699] == 1);   // last row of sequence 0
  CHECK(h.ref.row_mask[700] == 1);   // first of sequence 1
  CHECK(h.ref.row_mask[1349] == 1);  // last of sequence 1
  const ptxfmha::RefAttnResult ref = attn_reference(h);
  long long skipped_nan = 0;
  for (int64_t r = 0; r < h.q_rows; ++r) {
    if (h.ref.row_mask[std::size_t(r)]) {
      CHECK(ref.o[std::size_t(r) * c.heads_q * c.head_dim] == full.o[std::size_t(r) * c.heads_q * c.head_dim]);
    } else {
      skipped_nan += std::isnan(ref.o[std::size_t(r) * c.heads_q * c.head_dim]);
    }
    CHECK(ref.visible[std::size_t(r)] == full.visible[std::size_t(r)]);
  }
  CHECK(skipped_nan == h.q_rows - kept);
  // A perfect result (from the full reference) passes the sampled evaluation.
  const AttnOutputs good = perfect(c, h, full);
  std::string why;
  AttnFigures f = evaluate_attn(c, h, ref, good);
  CHECK_MESSAGE(attn_within_bounds(c, h, f, good, ref, Tolerance(), &why), why);
  // Find a skipped row with keys, and a sampled one.
  int64_t skipped = -1;
  for (int64_t r = 200; r < 500; ++r)
    if (!h.ref.row_mask[std::size_t(r)]) { skipped = r; break; }
  REQUIRE(skipped >= 0);
  REQUIRE(full.visible[std::size_t(skipped)] > 0);
  // skipped row: unwritten, NaN and a -inf LSE where keys are visible are still caught
  AttnOutputs bad = good;
  bad.o[std::size_t(attn_o_elem(c, h, (skipped * c.heads_q + 1) * c.head_dim + 3))] = kPoisonBf16;
  f = evaluate_attn(c, h, ref, bad);
  CHECK(f.unwritten == 1);
  bad = good;
  bad.lse[std::size_t(1) * h.total_q + skipped] = -INFINITY;
  f = evaluate_attn(c, h, ref, bad);
  CHECK(f.lse_nonfinite == 1);
  // a skipped row of sequence 1 without keys must keep LSE -inf
  REQUIRE(full.visible[700] == 0);
  REQUIRE(h.ref.row_mask[705] == 1);  // edge rows are sampled; force the check on a skipped one:
  h.ref.row_mask[705] = 0;
  const ptxfmha::RefAttnResult ref2 = attn_reference(h);
  bad = good;
  bad.lse[705] = -50.0f;
  f = evaluate_attn(c, h, ref2, bad);
  CHECK(f.lse_inf_mismatch == 1);
  // a wrong value in a sampled row is found with its position
  bad = good;
  int64_t inner = -1;  // a sampled row between the edges
  for (int64_t r = 200; r < 500; ++r)
    if (h.ref.row_mask[std::size_t(r)]) { inner = r; break; }
  REQUIRE(inner >= 0);
  const long long di = (inner * c.heads_q + 0) * c.head_dim + 0;
  bad.o[std::size_t(attn_o_elem(c, h, di))] = ptxfmha::float_to_bf16(float(full.o[std::size_t(di)]) + 1.0f);
  f = evaluate_attn(c, h, ref, bad);
  CHECK(f.o_first_bad == di);
}

TEST_CASE("attn util: the LSE bound's logit_mag term (e4m3 references): inside passes, outside fails") {
  const AttnCase c = cases()[0];
  const AttnHost h = make_attn_host(c, 3);
  ptxfmha::RefAttnResult ref = attn_reference(h);
  const AttnOutputs good = perfect(c, h, ref);
  const Tolerance tol;
  // row 1's LSE moved by err: 3x the bound without logit_mag, within it with logit_mag
  REQUIRE(std::isfinite(ref.lse[1]));
  const double base = tol.lse_abs + tol.lse_rel * std::fabs(ref.lse[1]), err = 3 * base;
  const double mag = 2 * err / tol.lse_mag;  // err is half the logit_mag term
  AttnOutputs moved = good;
  moved.lse[1] = float(ref.lse[1] + err);
  auto within = [&](const ptxfmha::RefAttnResult& r) {
    const AttnFigures f = evaluate_attn(c, h, r, moved, tol);
    std::string why;
    return attn_within_bounds(c, h, f, moved, r, tol, &why);
  };
  CHECK(!within(ref));  // no logit_mag: the plain bound
  ref.logit_mag.assign(ref.lse.size(), 0.0);
  CHECK(!within(ref));  // logit_mag 0 on that row: the plain bound
  ref.logit_mag[1] = mag;
  CHECK(within(ref));
  ref.logit_mag[1] = mag / 4;  // the term (err / 2) now below err - base
  CHECK(!within(ref));
  ref.logit_mag[1] = -INFINITY;  // a row that sees no key adds nothing
  CHECK(!within(ref));
  const AttnFigures f = evaluate_attn(c, h, ref, good, tol);
  CHECK(f.lse_mag_ratio <= 0);
}

TEST_CASE("attn util: LSE -inf of a row without keys and without a sink must stay -inf") {
  AttnCase c = attn_case({6}, {2}, 1, 1, 8);
  c.causal = true;  // rows 0..3 see no key
  const AttnHost h = make_attn_host(c, 3);
  const ptxfmha::RefAttnResult ref = attn_reference(h);
  REQUIRE(std::isinf(ref.lse[0]));
  AttnOutputs out = perfect(c, h, ref);
  out.lse[0] = -80.0f;
  const AttnFigures f = evaluate_attn(c, h, ref, out);
  CHECK(f.lse_inf_mismatch == 1);
  CHECK(f.lse_first_bad == 0);
}

namespace {

using ptxfmha_test::fake;  // validate_fixtures.h

AttnPointers fake_pointers() {
  AttnPointers p;
  p.q = fake(0); p.k = fake(1); p.v = fake(2); p.o = fake(3);
  p.lse = static_cast<float*>(fake(4));
  p.cu_q = static_cast<const int32_t*>(fake(5));
  p.cu_k = static_cast<const int32_t*>(fake(6));
  p.seqused = static_cast<const int32_t*>(fake(7));
  p.table = static_cast<const int32_t*>(fake(8));
  p.sinks = static_cast<const float*>(fake(9));
  p.slopes = static_cast<const float*>(fake(10));
  return p;
}

// The case's params pass the host validation and carry exactly the case's features.
void check_prefill(const AttnCase& c, uint64_t seed) {
  CAPTURE(describe(c));
  const AttnHost h = make_attn_host(c, seed, /*fill=*/false);
  const ptxfmha_attn_params a = make_attn_params(c, h, fake_pointers());
  ptxfmha::clear_last_error();
  CHECK_MESSAGE(ptxfmha::validate_attn_shape(a) == PTXFMHA_OK, ptxfmha::last_error_message());
  CHECK(ptxfmha::attn_features(a) == attn_case_features(c));
}

}  // namespace

// The GPU suites run on a machine the author of a case never sees: a case that the host
// validation refuses would turn into a failure there. Every listed case is checked here.
TEST_CASE("attn util: every case of the GPU suites passes the host validation and carries its features") {
  const int d = 64;  // the lists depend on the head dim only through sizes
  int n = 0;
  for (auto list : {attn_cases_alone, attn_cases_combinations, attn_cases_sanitizer})
    for (const NamedCase& nc : list(d)) {
      check_prefill(nc.c, nc.seed);
      ++n;
    }
  int plain = 0;
  for (const NamedCase& nc : attn_cases_alone(d)) plain += attn_case_features(nc.c) == 0;
  // Windows that reach every key run the plain kernels today: 1000 and 5000 on 1000 tokens,
  // 5000 on 4097 tokens, causal (left only) and symmetric.
  CHECK(plain == 6);
  for (auto list : {decode_attn_cases_features, decode_attn_cases_grid, decode_attn_cases_sanitizer})
    for (const NamedCase& nc : list(d)) {
      CAPTURE(describe(nc.c));
      const AttnHost h = make_attn_host(nc.c, nc.seed, /*fill=*/false);
      const ptxfmha_decode_attn_params dp = make_decode_attn_params(make_attn_params(nc.c, h, fake_pointers()), nc.num_splits);
      ptxfmha::clear_last_error();
      CHECK_MESSAGE(ptxfmha::validate_decode_attn_shape(dp) == PTXFMHA_OK, ptxfmha::last_error_message());
      CHECK(ptxfmha::decode_attn_features(dp) == (attn_case_features(nc.c) & ptxfmha::kDecodeAttnFeatures));
      CHECK(ptxfmha::decode_attn_features(dp) != 0u);
      ++n;
    }
  std::mt19937_64 rng(12345);
  for (int i = 0; i < 300; ++i) {
    const AttnCase c = draw_attn_case(rng, 64 << (i % 3));
    check_prefill(c, rng());
    ++n;
  }
  MESSAGE("GPU suite cases validated on the CPU: " << n);
}
