// GPU tests of ptxfmha_attn / ptxfmha_decode_attn that run today (suites "gpu-fwd",
// "gpu-decode"): without features the new entry points run the existing kernels, so their
// results must equal ptxfmha_fwd / ptxfmha_decode bitwise on the same buffers, including the
// window spellings of causal and of full attention; and a call with features is checked
// completely (device ranges of the metadata, sinks and slopes included) before it runs on a
// feature row (sm_90a: checked against the reference) or answers UNSUPPORTED_FEATURE with
// nothing written.
//
// Run: build/tests/ptxfmha_tests -ts="gpu-fwd,gpu-decode" -tc="gpu attn plain*"
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "attn_util.h"
#include "validate_attn.h"

using namespace ptxfmha_test;

namespace {

// ptxfmha_fwd_params with the same buffers as an attn block (fixed layouts, no features) and
// the causal flag the test expects (set here, not derived from the window).
ptxfmha_fwd_params as_fwd(const ptxfmha_attn_params& a, int causal) {
  ptxfmha_fwd_params f = ptxfmha::attn_as_fwd(a);
  f.causal = causal;
  return f;
}

struct Spelling {
  const char* name;
  int causal, window_left, window_right;  // window bounds as functions of Sq / Sk below
  int fwd_causal;
};

}  // namespace

TEST_CASE("gpu attn plain: ptxfmha_attn without features == ptxfmha_fwd bitwise (window spellings too)" *
          doctest::test_suite("gpu-fwd")) {
  REQUIRE(ensure_context());
  const auto rows = testable_fwd_rows();
  REQUIRE(!rows.empty());
  int cases = 0;
  for (const ptxfmha::KernelInfo* row : rows) {
    const int d = row->head_dim;
    struct Shape { int b, sq, sk, hq, hkv; Order qo, kvo; };
    const Shape shapes[] = {{2, 129, 200, 4, 1, Order::BSHD, Order::BSHD},
                            {1, 1000, 1000, 8, 2, Order::BHSD, Order::BSHD},
                            {1, 200, 77, 2, 1, Order::BSHD, Order::BHSD},  // rows without keys
                            {3, 1, 63, 8, 8, Order::BSHD, Order::BSHD}};
    for (const Shape& s : shapes) {
      // -2 stands for "Sk - 1", -3 for "Sq - 1", -4 for "Sk + 10" (windows wider than the sequence)
      const Spelling spellings[] = {{"full", 0, -1, -1, 0},
                                    {"causal", 1, -1, -1, 1},
                                    {"window_right 0", 0, -1, 0, 1},
                                    {"causal + window_right 0", 1, -1, 0, 1},
                                    {"causal + window_left Sk+10", 1, -4, -1, 1},
                                    {"window (Sk-1, Sq-1)", 0, -2, -3, 0}};
      for (const Spelling& sp : spellings) {
        auto bound = [&](int x) { return x == -2 ? s.sk - 1 : x == -3 ? s.sq - 1 : x == -4 ? s.sk + 10 : x; };
        AttnCase c = attn_case(std::vector<int>(std::size_t(s.b), s.sq), std::vector<int>(std::size_t(s.b), s.sk), s.hq,
                               s.hkv, d);
        c.q_order = s.qo;
        c.kv_order = s.kvo;
        c.causal = sp.causal != 0;
        c.window_left = bound(sp.window_left);
        c.window_right = bound(sp.window_right);
        const std::string what = std::string(row->name) + " [" + sp.name + "] " + describe(c);
        CAPTURE(what);
        REQUIRE(attn_case_features(c) == 0u);
        const AttnHost h = make_attn_host(c, 0xA77E + uint64_t(cases));
        AttnDevice dev(c, h);
        REQUIRE_MESSAGE(dev.launch() == PTXFMHA_OK, str(ptxfmha_last_error()));
        PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
        AttnOutputs via_attn, via_fwd;
        dev.download(&via_attn);
        dev.poison();
        // With one query row a right bound of Sq - 1 = 0 is the diagonal: causal (the same keys).
        const int fwd_causal = (sp.window_right == -3 && s.sq == 1) ? 1 : sp.fwd_causal;
        const ptxfmha_fwd_params f = as_fwd(dev.params(), fwd_causal);
        REQUIRE_MESSAGE(ptxfmha_fwd(&f) == PTXFMHA_OK, str(ptxfmha_last_error()));
        PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
        dev.download(&via_fwd);
        CHECK_MESSAGE(via_attn == via_fwd, what << ": ptxfmha_attn and ptxfmha_fwd differ bitwise");
        const ptxfmha::RefAttnResult ref = attn_reference(h);
        const AttnFigures fig = evaluate_attn(c, h, ref, via_attn);
        record_attn(std::string(row->name) + " (ptxfmha_attn plain)", describe(c), fig);
        std::string why;
        CHECK_MESSAGE(attn_within_bounds(c, h, fig, via_attn, ref, Tolerance(), &why), what << ": " << why);
        ++cases;
      }
    }
  }
  MESSAGE("ptxfmha_attn plain == ptxfmha_fwd: " << cases << " cases");
}

TEST_CASE("gpu attn plain: a call with features is checked on the device, then runs (or UNSUPPORTED_FEATURE, nothing written)" *
          doctest::test_suite("gpu-fwd")) {
  REQUIRE(ensure_context());
  const auto rows = testable_fwd_rows();
  REQUIRE(!rows.empty());
  const int d = rows.front()->head_dim;
  AttnCase c = attn_case({17, 0, 70}, {40, 5, 70}, 4, 2, d);
  c.varlen_q = c.varlen_k = true;
  c.causal = true;
  c.window_left = 8;
  c.softcap = 30;
  c.sinks = {0, 1, 2, 3};
  c.slopes = alibi_slopes(4);
  const AttnHost h = make_attn_host(c, 5);
  AttnDevice dev(c, h);
  std::vector<int32_t> host_meta(64, 0);
  std::vector<float> host_f(64, 0.0f);
  struct Bad {
    const char* field;
    std::function<void(ptxfmha_attn_params&)> mutate;
  };
  const std::vector<Bad> bad = {
      {"cu_seqlens_q", [&](ptxfmha_attn_params& a) { a.cu_seqlens_q = host_meta.data(); }},
      {"cu_seqlens_k", [&](ptxfmha_attn_params& a) { a.cu_seqlens_k = host_meta.data(); }},
      {"sink_logits", [&](ptxfmha_attn_params& a) { a.sink_logits = host_f.data(); }},
      {"alibi_slopes", [&](ptxfmha_attn_params& a) { a.alibi_slopes = host_f.data(); }},
  };
  for (const Bad& b : bad) {
    CAPTURE(b.field);
    dev.poison();
    ptxfmha_attn_params a = dev.params();
    b.mutate(a);
    ptxfmha::clear_last_error();
    CHECK(ptxfmha_attn(&a) == PTXFMHA_ERR_INVALID_ARGUMENT);
    CHECK(std::string(ptxfmha_last_error()).find(b.field) != std::string::npos);
  }
  dev.poison();
  const ptxfmha_attn_params a = dev.params();
  const ptxfmha_status st = ptxfmha_attn(&a);
  const std::string msg = ptxfmha_last_error();
  PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
  if (st == PTXFMHA_ERR_UNSUPPORTED_FEATURE) {
    CHECK(msg.find(gpu().info.arch) != std::string::npos);
    for (const char* f : {"varlen_q", "varlen_k", "window", "softcap", "sinks", "alibi"}) {
      CAPTURE(f);
      CHECK(msg.find(f) != std::string::npos);
    }
    AttnOutputs out;
    dev.download(&out);
    CHECK(std::all_of(out.o.begin(), out.o.end(), [](uint16_t x) { return x == kPoisonBf16; }));
    const MissingKernel mk =
        skip_for_missing_kernel(st, attn_case_features(c), false, gpu().info.sm, "features-path check");
    CHECK(mk == MissingKernel::Skipped);
  } else {  // a feature row ran it (sm_90a): the result against the float64 reference
    CHECK_MESSAGE(st == PTXFMHA_OK, msg);
    AttnOutputs out;
    dev.download(&out);
    const ptxfmha::RefAttnResult ref = attn_reference(h);
    const AttnFigures f = evaluate_attn(c, h, ref, out);
    std::string why;
    CHECK_MESSAGE(attn_within_bounds(c, h, f, out, ref, Tolerance(), &why), describe(c) << ": " << why);
  }
}

TEST_CASE("gpu attn plain: a newer caller's block with a zero tail runs; a set unknown field is refused" *
          doctest::test_suite("gpu-fwd")) {
  REQUIRE(ensure_context());
  const auto rows = testable_fwd_rows();
  REQUIRE(!rows.empty());
  AttnCase c = attn_case({65}, {130}, 2, 2, rows.front()->head_dim);
  c.causal = true;
  const AttnHost h = make_attn_host(c, 17);
  AttnDevice dev(c, h);
  struct Newer {
    ptxfmha_attn_params v1;
    uint64_t future[2];
  } n;
  std::memset(&n, 0, sizeof n);
  n.v1 = dev.params();
  n.v1.struct_size = sizeof n;
  dev.poison();
  CHECK(ptxfmha_attn(&n.v1) == PTXFMHA_OK);
  PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
  AttnOutputs out;
  dev.download(&out);
  const ptxfmha::RefAttnResult ref = attn_reference(h);
  const AttnFigures f = evaluate_attn(c, h, ref, out);
  std::string why;
  CHECK_MESSAGE(attn_within_bounds(c, h, f, out, ref, Tolerance(), &why), why);
  n.future[1] = 1;
  dev.poison();
  CHECK(ptxfmha_attn(&n.v1) == PTXFMHA_ERR_INVALID_ARGUMENT);
  PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
  dev.download(&out);
  CHECK(std::all_of(out.o.begin(), out.o.end(), [](uint16_t x) { return x == kPoisonBf16; }));
}

TEST_CASE("gpu attn plain: ptxfmha_decode_attn without features == ptxfmha_decode bitwise" *
          doctest::test_suite("gpu-decode")) {
  REQUIRE(ensure_context());
  const auto drows = rows_for(gpu().info.arch, ptxfmha::KernelKind::Decode);
  REQUIRE(!drows.empty());
  int cases = 0;
  for (const ptxfmha::KernelInfo* row : drows) {
    const int d = row->head_dim;
    for (int page : {0, 16, 64}) {
      for (int splits : {0, 1, 3}) {
        AttnCase c = attn_case({4, 4, 4}, {700, 700, 700}, 16, 2, d);
        c.page_size = page;
        c.used = {700, 1, 333};
        c.causal = true;
        c.window_right = page == 16 ? 0 : -1;  // causal spelt twice: still plain
        const AttnHost h = make_attn_host(c, 0xDEC0 + uint64_t(cases));
        AttnDevice dev(c, h);
        const std::string what = std::string(row->name) + " " + describe(c) + " splits=" + std::to_string(splits);
        CAPTURE(what);
        REQUIRE_MESSAGE(dev.launch_decode(splits) == PTXFMHA_OK, str(ptxfmha_last_error()));
        PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
        AttnOutputs via_attn, via_decode;
        dev.download(&via_attn);
        // The same call through ptxfmha_decode on the embedded decode fields.
        dev.poison();
        ptxfmha_decode_attn_params da = dev.decode_params(splits);
        ptxfmha_decode_params base = ptxfmha::decode_attn_base(da);
        uint64_t ws_bytes = 0;
        REQUIRE(ptxfmha_decode_workspace_size(&base, &ws_bytes) == PTXFMHA_OK);
        DeviceBuffer ws(std::size_t(std::max<uint64_t>(ws_bytes, 16)));
        base.workspace = ws.get();
        base.workspace_bytes = ws_bytes;
        REQUIRE_MESSAGE(ptxfmha_decode(&base) == PTXFMHA_OK, str(ptxfmha_last_error()));
        PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
        dev.download(&via_decode);
        CHECK_MESSAGE(via_attn == via_decode, what << ": ptxfmha_decode_attn and ptxfmha_decode differ bitwise");
        const ptxfmha::RefAttnResult ref = attn_reference(h);
        const AttnFigures fig = evaluate_attn(c, h, ref, via_attn);
        record_attn(std::string(row->name) + " (ptxfmha_decode_attn plain)", describe(c), fig);
        std::string why;
        CHECK_MESSAGE(attn_within_bounds(c, h, fig, via_attn, ref, Tolerance(), &why), what << ": " << why);
        ++cases;
      }
    }
  }
  MESSAGE("ptxfmha_decode_attn plain == ptxfmha_decode: " << cases << " cases");
}
