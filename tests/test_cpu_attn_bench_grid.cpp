// CPU tests of the serving-feature bench cells (bench/bench_case.h attn_grid, family "attn"):
// the cases exist with the shapes it names, the FLOPs count only visible scores
// (checked against a brute-force count), the sizes the arenas see follow the packed layout,
// and every plain prefill cell has its features-off twin.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>

#include "bench_case.h"

using ptxfmha_bench::Case;

namespace {
const Case* find(const std::vector<Case>& v, const std::string& prefix) {
  for (const Case& c : v)
    if (c.name.rfind(prefix, 0) == 0) return &c;
  return nullptr;
}
double brute_pairs(int64_t lq, int64_t lk, int64_t left) {
  double n = 0;
  for (int64_t i = 0; i < lq; ++i)
    for (int64_t j = 0; j < lk; ++j) {
      const int64_t d = i + lk - lq;
      if (j <= d && (left < 0 || j >= d - left)) n += 1;
    }
  return n;
}
}  // namespace

TEST_CASE("attn bench grid: visible pairs of causal windows, exact") {
  for (int64_t lq : {1, 7, 64, 300})
    for (int64_t lk : {1, 9, 64, 300, 500})
      for (int64_t left : {-1, 0, 1, 5, 100, 1000}) {
        CAPTURE(lq);
        CAPTURE(lk);
        CAPTURE(left);
        CHECK(ptxfmha_bench::attn_visible_pairs(lq, lk, left) == brute_pairs(lq, lk, left));
      }
}

TEST_CASE("attn bench grid: the issue's serving cases and the features-off twins") {
  const std::vector<int> dims = {64, 128, 256}, seqlens = {512, 1024, 2048, 4096, 8192, 16384};
  const std::vector<Case> g = ptxfmha_bench::attn_grid(dims, seqlens);
  std::set<std::string> names;
  for (const Case& c : g) {
    CHECK_MESSAGE(names.insert(c.name).second, "duplicate cell " << c.name);
    CHECK(c.family == "attn");
    CHECK(c.flops() > 0);
  }
  const Case* v = find(g, "attn/varlen/");
  REQUIRE(v != nullptr);
  CHECK(v->seqlens.size() == 32u);
  CHECK(v->batch == 32);
  CHECK(*std::min_element(v->seqlens.begin(), v->seqlens.end()) >= 128);
  CHECK(*std::max_element(v->seqlens.begin(), v->seqlens.end()) <= 8192);
  CHECK(v->seqlen_q == *std::max_element(v->seqlens.begin(), v->seqlens.end()));
  CHECK(v->q_rows() > 58000);  // about 64k tokens
  CHECK(v->q_rows() < 72000);
  CHECK(v->q_elems() == v->q_rows() * 32 * 128);
  CHECK(v->kv_elems() == v->q_rows() * 8 * 128);  // packed keys: Q = K lengths
  CHECK(v->lse_elems() == v->q_rows() * 32);
  CHECK((v->heads_q == 32 && v->heads_kv == 8 && v->head_dim == 128 && v->causal));
  double pairs = 0;
  for (int32_t l : v->seqlens) pairs += double(l) * (l + 1) / 2;
  CHECK(v->flops() == doctest::Approx(4.0 * pairs * 32 * 128));

  const Case* w = find(g, "attn/window/");
  const Case* nw = find(g, "attn/nowindow/");
  REQUIRE(w != nullptr);
  REQUIRE(nw != nullptr);
  CHECK((w->seqlen_q == 32768 && w->window_left == 4096 && w->head_dim == 128 && w->causal));
  CHECK(nw->window_left == -1);
  // the target for the window: >= (seqlen / window) / 2 = 4x faster than without;
  // the visible scores alone allow 4.27x
  CHECK(nw->flops() / w->flops() > 4.0);

  const Case* p = find(g, "attn/paged/");
  REQUIRE(p != nullptr);
  CHECK((p->page_size == 64 && p->seqlen_q == 2048 && p->seqlen_k == 32768 && p->heads_q == 32 &&
         p->heads_kv == 8 && p->head_dim == 128));
  CHECK(p->kv_elems() == p->num_pages() * 64 * 8 * 128);

  const Case* s = find(g, "attn/softcap/");
  REQUIRE(s != nullptr);
  CHECK((s->softcap == 50.0f && s->head_dim == 256 && s->heads_q == 16 && s->heads_kv == 8));
  REQUIRE(find(g, "attn/nosoftcap/") != nullptr);
  CHECK(s->causal);
  // the unmasked twin, where cuDNN computes the same softcap: every pair counts
  const Case* snc = find(g, "attn/softcapnc/");
  const Case* nsnc = find(g, "attn/nosoftcapnc/");
  REQUIRE(snc != nullptr);
  REQUIRE(nsnc != nullptr);
  CHECK((snc->softcap == 50.0f && !snc->causal && snc->head_dim == 256 && snc->heads_q == 16 &&
         snc->heads_kv == 8 && !nsnc->causal && nsnc->softcap == 0.0f));
  CHECK(snc->flops() == doctest::Approx(4.0 * 2 * 8192.0 * 8192.0 * 16 * 256));
  CHECK(snc->flops() == doctest::Approx(2.0 * s->flops()).epsilon(1e-3));
  const Case* k = find(g, "attn/sinks/");
  REQUIRE(k != nullptr);
  CHECK((k->sinks && k->window_left == 128 && k->head_dim == 64 && k->heads_q == 64 && k->heads_kv == 8));
  REQUIRE(find(g, "attn/nosinks/") != nullptr);

  // one EXT-row twin per plain prefill cell, same shape
  const std::vector<Case> plain = ptxfmha_bench::prefill_grid(dims, seqlens);
  for (const Case& c : plain) {
    const Case* t = find(g, "fwdoff" + c.name.substr(3));
    REQUIRE_MESSAGE(t != nullptr, "no features-off twin of " << c.name);
    CHECK(t->features_off);
    CHECK((t->batch == c.batch && t->seqlen_q == c.seqlen_q && t->heads_q == c.heads_q &&
           t->head_dim == c.head_dim && t->causal == c.causal));
    CHECK(t->flops() == c.flops());
  }
}
