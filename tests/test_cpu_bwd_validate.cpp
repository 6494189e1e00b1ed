// CPU tests of the backward's host side that need no device:
//   - every bad argument of ptxfmha_bwd / ptxfmha_bwd_workspace_size gets its status and a
//     message naming the argument (pointers are fake: validation never dereferences them and
//     runs before any device is touched), one case per row of the list in host/src/bwd.h;
//   - struct_size: the extensible parameter block (too small, larger with a zero tail, larger
//     with a non-zero tail) and ptxfmha_bwd_params_init;
//   - the workspace layout: regions aligned, disjoint, large enough for every BLOCK_M the
//     kernels use, and the size independent of everything but batch, heads_q, seqlen_q and
//     head_dim.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "attn_kernel_abi.h"
#include "bwd.h"
#include "ptxfmha/ptxfmha.h"
#include "shapes.h"
#include "bwd_validate_util.h"

using namespace ptxfmha_test::bwd_fixtures;  // valid(), expect_error, BadCase (bwd_validate_util.h)

TEST_CASE("bwd validation: the valid problem passes every device-free check") {
  const ptxfmha_bwd_params p = valid();
  ptxfmha_bwd_params copy;
  REQUIRE(ptxfmha::read_bwd_params(&p, &copy) == PTXFMHA_OK);
  CHECK(ptxfmha::validate_bwd_shape(copy) == PTXFMHA_OK);
  ptxfmha::BwdWorkspaceLayout l;
  REQUIRE(ptxfmha::bwd_workspace_layout(p.batch, p.heads_q, p.seqlen_q, p.head_dim, &l));
  CHECK(ptxfmha::validate_bwd_workspace(copy, l.bytes) == PTXFMHA_OK);
  // On this machine ptxfmha_bwd then needs the device: whatever it says, it is not a
  // validation status.
  const ptxfmha_status st = ptxfmha_bwd(&p);
  CHECK(st != PTXFMHA_ERR_NULL_POINTER);
  CHECK(st != PTXFMHA_ERR_INVALID_SIZE);
  CHECK(st != PTXFMHA_ERR_INVALID_STRIDE);
  CHECK(st != PTXFMHA_ERR_ALIASING);
}

TEST_CASE("bwd validation: NULL pointers, each named") {
  CHECK(ptxfmha_bwd(nullptr) == PTXFMHA_ERR_NULL_POINTER);
  CHECK(std::string(ptxfmha_last_error()).find("params") != std::string::npos);
  uint64_t b = 0;
  CHECK(ptxfmha_bwd_workspace_size(nullptr, &b) == PTXFMHA_ERR_NULL_POINTER);
  ptxfmha_bwd_params p = valid();
  CHECK(ptxfmha_bwd_workspace_size(&p, nullptr) == PTXFMHA_ERR_NULL_POINTER);
  CHECK(std::string(ptxfmha_last_error()).find("bytes") != std::string::npos);
  struct Case { const char* name; void (*clear)(ptxfmha_bwd_params&); };
  const Case cases[] = {
      {"q", [](ptxfmha_bwd_params& x) { x.q = nullptr; }},
      {"k", [](ptxfmha_bwd_params& x) { x.k = nullptr; }},
      {"v", [](ptxfmha_bwd_params& x) { x.v = nullptr; }},
      {"o", [](ptxfmha_bwd_params& x) { x.o = nullptr; }},
      {"dout", [](ptxfmha_bwd_params& x) { x.dout = nullptr; }},
      {"lse", [](ptxfmha_bwd_params& x) { x.lse = nullptr; }},
      {"dq", [](ptxfmha_bwd_params& x) { x.dq = nullptr; }},
      {"dk", [](ptxfmha_bwd_params& x) { x.dk = nullptr; }},
      {"dv", [](ptxfmha_bwd_params& x) { x.dv = nullptr; }},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    p = valid();
    c.clear(p);
    expect_error(p, PTXFMHA_ERR_NULL_POINTER, (std::string(c.name) + " is NULL").c_str());
  }
  p = valid();
  p.workspace = nullptr;
  expect_error(p, PTXFMHA_ERR_NULL_POINTER, "workspace is NULL", true);
}

TEST_CASE("bwd validation: struct_size and ptxfmha_bwd_params_init") {
  ptxfmha_bwd_params p;
  std::memset(&p, 0xAB, sizeof p);
  ptxfmha_bwd_params_init(&p);
  CHECK(p.struct_size == sizeof(ptxfmha_bwd_params));
  CHECK(p.q == nullptr);
  CHECK(p.softmax_scale == 0.0f);
  CHECK(p.causal == 0);
  CHECK(p.deterministic == 0);
  CHECK(p.stream == nullptr);
  ptxfmha_bwd_params_init(nullptr);  // ignored

  CHECK(p.window_left == -1);
  CHECK(p.window_right == -1);
  CHECK(p.softcap == 0.0f);
  CHECK(p.sink_logits == nullptr);
  CHECK(p.d_sink == nullptr);
  CHECK(p.cu_seqlens_q == nullptr);

  p = valid();
  p.struct_size = PTXFMHA_BWD_PARAMS_SIZE_V1 - 8;
  expect_error(p, PTXFMHA_ERR_INVALID_ARGUMENT, "struct_size");
  p.struct_size = 0;
  expect_error(p, PTXFMHA_ERR_INVALID_ARGUMENT, "ptxfmha_bwd_params_init");
  p.struct_size = uint64_t(1) << 40;
  expect_error(p, PTXFMHA_ERR_INVALID_ARGUMENT, "struct_size");

  // A newer caller's larger block: accepted when the unknown tail is zero, refused otherwise.
  struct Newer {
    ptxfmha_bwd_params base;
    uint64_t future[4];
  } n;
  std::memset(&n, 0, sizeof n);
  n.base = valid();
  n.base.struct_size = sizeof n;
  uint64_t a = 0, b = 0;
  CHECK(ptxfmha_bwd_workspace_size(&n.base, &a) == PTXFMHA_OK);
  ptxfmha_bwd_params plain = valid();
  CHECK(ptxfmha_bwd_workspace_size(&plain, &b) == PTXFMHA_OK);
  CHECK(a == b);
  n.future[2] = 7;
  expect_error(n.base, PTXFMHA_ERR_INVALID_ARGUMENT, "not zero");

  // A version-1 caller: its block ends before the feature fields; whatever lies there is not
  // read (the defaults apply: window -1, no softcap, no arrays).
  ptxfmha_bwd_params v1 = valid();
  std::memset(reinterpret_cast<unsigned char*>(&v1) + PTXFMHA_BWD_PARAMS_SIZE_V1, 0xAB,
              sizeof v1 - PTXFMHA_BWD_PARAMS_SIZE_V1);
  v1.struct_size = PTXFMHA_BWD_PARAMS_SIZE_V1;
  uint64_t c = 0;
  CHECK(ptxfmha_bwd_workspace_size(&v1, &c) == PTXFMHA_OK);
  CHECK(c == b);
}

TEST_CASE("bwd validation: the serving features (window, softcap, arrays, d_sink)") {
  const BadCase cases[] = {
      {"window_left", PTXFMHA_ERR_INVALID_ARGUMENT, [](ptxfmha_bwd_params& x) { x.window_left = -2; }},
      {"window_right", PTXFMHA_ERR_INVALID_ARGUMENT, [](ptxfmha_bwd_params& x) { x.window_right = -5; }},
      {"window_right = 3", PTXFMHA_ERR_INVALID_ARGUMENT, [](ptxfmha_bwd_params& x) { x.causal = 1; x.window_right = 3; }},
      {"softcap", PTXFMHA_ERR_INVALID_ARGUMENT, [](ptxfmha_bwd_params& x) { x.softcap = -1.0f; }},
      {"softcap", PTXFMHA_ERR_INVALID_ARGUMENT, [](ptxfmha_bwd_params& x) { x.softcap = std::nanf(""); }},
      {"reserved1", PTXFMHA_ERR_INVALID_ARGUMENT, [](ptxfmha_bwd_params& x) { x.reserved1 = 1; }},
      {"alibi_slopes", PTXFMHA_ERR_MISALIGNED_POINTER,
       [](ptxfmha_bwd_params& x) { x.alibi_slopes = reinterpret_cast<const float*>(static_cast<char*>(fake(20)) + 2); }},
      {"sink_logits", PTXFMHA_ERR_MISALIGNED_POINTER,
       [](ptxfmha_bwd_params& x) { x.sink_logits = reinterpret_cast<const float*>(static_cast<char*>(fake(21)) + 1); }},
      {"d_sink", PTXFMHA_ERR_MISALIGNED_POINTER,
       [](ptxfmha_bwd_params& x) { x.d_sink = reinterpret_cast<float*>(static_cast<char*>(fake(22)) + 2); }},
      {"sink_logits is NULL", PTXFMHA_ERR_INVALID_ARGUMENT,
       [](ptxfmha_bwd_params& x) { x.d_sink = static_cast<float*>(fake(22)); }},
      {"d_sink", PTXFMHA_ERR_ALIASING, [](ptxfmha_bwd_params& x) {
         x.sink_logits = static_cast<const float*>(fake(21));
         x.d_sink = static_cast<float*>(const_cast<void*>(x.dq));
       }},
      {"d_sink", PTXFMHA_ERR_ALIASING, [](ptxfmha_bwd_params& x) {
         x.sink_logits = static_cast<const float*>(fake(21));
         x.d_sink = const_cast<float*>(x.sink_logits) + 1;
       }},
  };
  expect_bad_cases(cases);
  // Valid feature settings pass every device-free check (the kernels are chosen with a device).
  ptxfmha_bwd_params p = valid();
  p.window_left = 64;
  p.window_right = 0;
  p.softcap = 30.0f;
  p.alibi_slopes = static_cast<const float*>(fake(20));
  p.sink_logits = static_cast<const float*>(fake(21));
  uint64_t bytes = 0;
  CHECK(ptxfmha_bwd_workspace_size(&p, &bytes) == PTXFMHA_OK);
  CHECK(ptxfmha::bwd_features(p) == (ptxfmha::kAttnWindow | ptxfmha::kAttnSoftcap | ptxfmha::kAttnAlibi | ptxfmha::kAttnSinks));
  // A window wider than the sequences is none: causal alone is the plain kernels' causal.
  p = valid();
  p.window_left = 100000;
  p.window_right = 0;
  CHECK(ptxfmha::bwd_features(p) == 0);
}

TEST_CASE("bwd validation: sizes, GQA, scale, flags") {
  const BadCase cases[] = {
      {"batch", PTXFMHA_ERR_INVALID_SIZE, [](ptxfmha_bwd_params& x) { x.batch = 0; }},
      {"seqlen_q", PTXFMHA_ERR_INVALID_SIZE, [](ptxfmha_bwd_params& x) { x.seqlen_q = -3; }},
      {"seqlen_k", PTXFMHA_ERR_INVALID_SIZE, [](ptxfmha_bwd_params& x) { x.seqlen_k = 0; }},
      {"heads_q", PTXFMHA_ERR_INVALID_SIZE, [](ptxfmha_bwd_params& x) { x.heads_q = 0; }},
      {"heads_kv", PTXFMHA_ERR_INVALID_SIZE, [](ptxfmha_bwd_params& x) { x.heads_kv = 0; }},
      {"head_dim", PTXFMHA_ERR_INVALID_SIZE, [](ptxfmha_bwd_params& x) { x.head_dim = 0; }},
      {"heads_kv = 3", PTXFMHA_ERR_GQA_RATIO, [](ptxfmha_bwd_params& x) { x.heads_kv = 3; }},
      {"softmax_scale", PTXFMHA_ERR_INVALID_SCALE, [](ptxfmha_bwd_params& x) { x.softmax_scale = -1.0f; }},
      {"softmax_scale", PTXFMHA_ERR_INVALID_SCALE, [](ptxfmha_bwd_params& x) { x.softmax_scale = 1.0f / 0.0f; }},
      {"softmax_scale", PTXFMHA_ERR_INVALID_SCALE, [](ptxfmha_bwd_params& x) { x.softmax_scale = std::nanf(""); }},
      {"causal", PTXFMHA_ERR_INVALID_ARGUMENT, [](ptxfmha_bwd_params& x) { x.causal = 2; }},
      {"deterministic", PTXFMHA_ERR_INVALID_ARGUMENT, [](ptxfmha_bwd_params& x) { x.deterministic = -1; }},
      {"reserved0", PTXFMHA_ERR_INVALID_ARGUMENT, [](ptxfmha_bwd_params& x) { x.reserved0 = 1; }},
  };
  expect_bad_cases(cases);
  // softmax_scale 0 is the default 1/sqrt(head_dim).
  ptxfmha_bwd_params p = valid();
  p.softmax_scale = 0.0f;
  uint64_t b = 0;
  CHECK(ptxfmha_bwd_workspace_size(&p, &b) == PTXFMHA_OK);
  CHECK(ptxfmha::bwd_effective_scale(p) == doctest::Approx(1.0 / std::sqrt(128.0)));
  p.softmax_scale = 0.25f;
  CHECK(ptxfmha::bwd_effective_scale(p) == 0.25f);
}

TEST_CASE("bwd validation: misaligned pointers, each named") {
  struct Case { const char* name; void (*mutate)(ptxfmha_bwd_params&); };
  const Case cases[] = {
      {"q", [](ptxfmha_bwd_params& x) { x.q = static_cast<const char*>(x.q) + 8; }},
      {"k", [](ptxfmha_bwd_params& x) { x.k = static_cast<const char*>(x.k) + 2; }},
      {"v", [](ptxfmha_bwd_params& x) { x.v = static_cast<const char*>(x.v) + 4; }},
      {"o", [](ptxfmha_bwd_params& x) { x.o = static_cast<const char*>(x.o) + 8; }},
      {"dout", [](ptxfmha_bwd_params& x) { x.dout = static_cast<const char*>(x.dout) + 8; }},
      {"dq", [](ptxfmha_bwd_params& x) { x.dq = static_cast<char*>(x.dq) + 8; }},
      {"dk", [](ptxfmha_bwd_params& x) { x.dk = static_cast<char*>(x.dk) + 8; }},
      {"dv", [](ptxfmha_bwd_params& x) { x.dv = static_cast<char*>(x.dv) + 8; }},
      {"lse", [](ptxfmha_bwd_params& x) { x.lse = reinterpret_cast<const float*>(reinterpret_cast<const char*>(x.lse) + 2); }},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    ptxfmha_bwd_params p = valid();
    c.mutate(p);
    expect_error(p, PTXFMHA_ERR_MISALIGNED_POINTER, (std::string(c.name) + " = ").c_str());
  }
  // lse only needs 4 bytes.
  ptxfmha_bwd_params p = valid();
  p.lse = reinterpret_cast<const float*>(reinterpret_cast<const char*>(p.lse) + 4);
  uint64_t b = 0;
  CHECK(ptxfmha_bwd_workspace_size(&p, &b) == PTXFMHA_OK);
  p = valid();
  p.workspace = static_cast<char*>(p.workspace) + 8;
  expect_error(p, PTXFMHA_ERR_MISALIGNED_POINTER, "workspace", true);
}

TEST_CASE("bwd validation: size limits") {
  ptxfmha_bwd_params p = valid();
  p.heads_q = 65536 * 2; p.heads_kv = 2;
  expect_error(p, PTXFMHA_ERR_SIZE_OVERFLOW, "heads_q");
  p = valid();
  p.batch = 65536;
  expect_error(p, PTXFMHA_ERR_SIZE_OVERFLOW, "batch");
  // 2 * 8 * round_up(2^27 - 100, 128) = 2^31 rows: one too many (the padding counts).
  p = valid();
  p.seqlen_q = (1 << 27) - 100;
  p.q_batch_stride = p.o_batch_stride = p.dout_batch_stride = p.dq_batch_stride = int64_t(p.seqlen_q) * 8 * 128;
  expect_error(p, PTXFMHA_ERR_SIZE_OVERFLOW, "round_up(seqlen_q");
  p = valid();
  p.seqlen_k = (1 << 30) - 8; p.heads_kv = 2;
  p.k_batch_stride = p.v_batch_stride = p.dk_batch_stride = p.dv_batch_stride = int64_t(p.seqlen_k) * 2 * 128;
  expect_error(p, PTXFMHA_ERR_SIZE_OVERFLOW, "seqlen_k");
}

TEST_CASE("bwd validation: strides of every tensor, each named") {
  const BadCase cases[] = {
      {"q_seq_stride", PTXFMHA_ERR_INVALID_STRIDE, [](ptxfmha_bwd_params& x) { x.q_seq_stride = 1028; }},
      {"k_head_stride", PTXFMHA_ERR_INVALID_STRIDE, [](ptxfmha_bwd_params& x) { x.k_head_stride = -128; }},
      {"v_batch_stride", PTXFMHA_ERR_INVALID_STRIDE, [](ptxfmha_bwd_params& x) { x.v_batch_stride = 3; }},
      {"o_seq_stride", PTXFMHA_ERR_INVALID_STRIDE, [](ptxfmha_bwd_params& x) { x.o_seq_stride = 64; }},
      {"dout_head_stride", PTXFMHA_ERR_INVALID_STRIDE, [](ptxfmha_bwd_params& x) { x.dout_head_stride = 4; }},
      {"dq_seq_stride", PTXFMHA_ERR_INVALID_STRIDE, [](ptxfmha_bwd_params& x) { x.dq_seq_stride = 12; }},
      {"dk_seq_stride", PTXFMHA_ERR_INVALID_STRIDE, [](ptxfmha_bwd_params& x) { x.dk_seq_stride = 0; }},
      {"dv_head_stride", PTXFMHA_ERR_INVALID_STRIDE, [](ptxfmha_bwd_params& x) { x.dv_head_stride = 6; }},
      {"dq_batch_stride", PTXFMHA_ERR_SIZE_OVERFLOW, [](ptxfmha_bwd_params& x) { x.dq_batch_stride = int64_t(1) << 40; }},
  };
  expect_bad_cases(cases);
}

TEST_CASE("bwd validation: outputs never overlap inputs or each other; the workspace overlaps nothing") {
  // Place an output exactly on an input (same fake address).
  struct Case { const char* out; const char* in; void (*mutate)(ptxfmha_bwd_params&); };
  const Case cases[] = {
      {"dq", "q", [](ptxfmha_bwd_params& x) { x.dq = const_cast<void*>(x.q); }},
      {"dq", "dout", [](ptxfmha_bwd_params& x) { x.dq = const_cast<void*>(x.dout); }},
      {"dk", "k", [](ptxfmha_bwd_params& x) { x.dk = const_cast<void*>(x.k); }},
      {"dv", "v", [](ptxfmha_bwd_params& x) { x.dv = const_cast<void*>(x.v); }},
      {"dv", "o", [](ptxfmha_bwd_params& x) { x.dv = const_cast<void*>(x.o); }},
      {"dk", "lse", [](ptxfmha_bwd_params& x) { x.dk = const_cast<float*>(x.lse); }},
      {"dk", "dq", [](ptxfmha_bwd_params& x) { x.dk = static_cast<char*>(x.dq) + 4096; }},
      {"dv", "dk", [](ptxfmha_bwd_params& x) { x.dv = x.dk; }},
  };
  for (const Case& c : cases) {
    CAPTURE(c.out);
    CAPTURE(c.in);
    ptxfmha_bwd_params p = valid();
    c.mutate(p);
    CHECK(ptxfmha_bwd(&p) == PTXFMHA_ERR_ALIASING);
    const std::string m = ptxfmha_last_error();
    CHECK_MESSAGE(m.find(std::string(c.out) + " (bytes") != std::string::npos, m);
    CHECK_MESSAGE(m.find(std::string("overlaps ") + c.in) != std::string::npos, m);
  }
  // Inputs may alias each other (e.g. Q and K from one buffer).
  ptxfmha_bwd_params p = valid();
  p.k = p.q;
  p.k_batch_stride = p.q_batch_stride;  // same extent is fine for reading
  uint64_t b = 0;
  CHECK(ptxfmha_bwd_workspace_size(&p, &b) == PTXFMHA_OK);
  // Workspace on the LSE / on dV.
  p = valid();
  p.workspace = const_cast<float*>(p.lse);
  expect_error(p, PTXFMHA_ERR_ALIASING, "workspace", true);
  p = valid();
  p.workspace = static_cast<char*>(p.dv) + 1024;
  expect_error(p, PTXFMHA_ERR_ALIASING, "overlaps dv", true);
  p = valid();
  p.workspace_bytes -= 16;
  expect_error(p, PTXFMHA_ERR_INVALID_ARGUMENT, "workspace_bytes", true);
}

TEST_CASE("bwd workspace layout: aligned, disjoint, enough for every BLOCK_M, device-independent") {
  for (int b : {1, 3}) {
    for (int h : {1, 5, 16}) {
      for (int sq : {1, 63, 64, 65, 127, 128, 129, 1000, 4097}) {
        for (int d : ptxfmha_test::kHeadDims) {
          CAPTURE(b); CAPTURE(h); CAPTURE(sq); CAPTURE(d);
          ptxfmha::BwdWorkspaceLayout l;
          REQUIRE(ptxfmha::bwd_workspace_layout(b, h, sq, d, &l));
          const uint64_t offs[4] = {l.dq_acc, l.nlse, l.dsum, l.sem};
          for (uint64_t o : offs) CHECK(o % ptxfmha::kBwdWsAlignBytes == 0);
          CHECK(l.dq_acc == 0);
          for (int bm : {64, 128}) {
            const uint64_t nm = (uint64_t(sq) + bm - 1) / bm;
            const uint64_t rows = uint64_t(b) * h * nm * bm;  // the kernels' padded rows
            CHECK(l.dq_acc + rows * d * 4 <= l.nlse);
            CHECK(l.nlse + rows * 4 <= l.dsum);
            CHECK(l.dsum + rows * 4 <= l.sem);
            CHECK(l.sem + uint64_t(b) * h * nm * 4 <= l.bytes);
          }
        }
      }
    }
  }
  // The public size equals the layout's and ignores seqlen_k, heads_kv, causal, strides.
  ptxfmha_bwd_params p = valid();
  uint64_t a = 0, c = 0;
  REQUIRE(ptxfmha_bwd_workspace_size(&p, &a) == PTXFMHA_OK);
  ptxfmha::BwdWorkspaceLayout l;
  REQUIRE(ptxfmha::bwd_workspace_layout(p.batch, p.heads_q, p.seqlen_q, p.head_dim, &l));
  CHECK(a == l.bytes);
  p.seqlen_k = 17; p.heads_kv = 8; p.causal = 0; p.deterministic = 1;
  p.k_batch_stride = p.v_batch_stride = p.dk_batch_stride = p.dv_batch_stride = 17 * 8 * 128;
  p.k_seq_stride = p.v_seq_stride = p.dk_seq_stride = p.dv_seq_stride = 8 * 128;
  REQUIRE(ptxfmha_bwd_workspace_size(&p, &c) == PTXFMHA_OK);
  CHECK(a == c);
  CHECK(!ptxfmha::bwd_workspace_layout(-1, 1, 1, 64, &l));
}
