// CPU tests of the test helpers themselves (tests/gpu_util.h, tests/ptx_util.h), so that the
// GPU and build checks built on them can fail: the parallel reference equals one
// reference_fwd call, evaluate()/within_bounds() catch each kind of wrong output, and the
// parsers read PTX, ptxas reports and SASS as written.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "gpu_util.h"
#include "ptx_util.h"

using namespace ptxfmha_test;

TEST_CASE("helpers: IntExpr evaluates macro expressions like the C preprocessor") {
  std::map<std::string, std::string> m = {{"D", "64"}, {"BYTES", "(1024 + 128 * D * 2 + 2 * 2 * 128 * D * 2 + 256)"},
                                          {"NESTED", "BYTES / 2"}, {"HEX", "0x40u"}};
  IntExpr ev(m);
  long long v = 0;
  std::string err;
  REQUIRE(ev.eval("BYTES", &v, &err));
  CHECK(v == 83200);
  REQUIRE(ev.eval("NESTED", &v, &err));
  CHECK(v == 41600);
  REQUIRE(ev.eval("HEX * 2", &v, &err));
  CHECK(v == 128);
  REQUIRE(ev.eval("1 << 2 + 1", &v, &err));  // + binds tighter than <<
  CHECK(v == 8);
  REQUIRE(ev.eval("-(3 - 10) % 4", &v, &err));
  CHECK(v == 3);
  CHECK_FALSE(ev.eval("UNDEFINED + 1", &v, &err));
  CHECK(err.find("UNDEFINED") != std::string::npos);
  CHECK_FALSE(ev.eval("(1 + 2", &v, &err));
  CHECK_FALSE(ev.eval("4 / 0", &v, &err));
  // 64-bit patterns (a wgmma descriptor's fields, wgmma.ptxh: DESC_SW64_KMAJOR): literals read as
  // unsigned 64-bit, + - * << modulo 2^64
  REQUIRE(ev.eval("(0x8000000000000000 | ((512 >> 4) << 32) | ((16 >> 4) << 16))", &v, &err));
  CHECK(static_cast<uint64_t>(v) == 0x8000002000010000ull);
  REQUIRE(ev.eval("0xFFFFFFFFFFFFFFFF + 2", &v, &err));
  CHECK(v == 1);
  REQUIRE(ev.eval("1 << 63", &v, &err));
  CHECK(static_cast<uint64_t>(v) == 0x8000000000000000ull);
  REQUIRE(ev.eval("18446744073709551615u", &v, &err));
  CHECK(v == -1);
  CHECK_FALSE(ev.eval("0x10000000000000000", &v, &err));  // more than 64 bits
}

TEST_CASE("helpers: parse_entry reads the .param block and .maxntid of the named entry") {
  const std::string ptx =
      ".version 8.7\n.target sm_90a\n.address_size 64\n"
      ".visible .entry other(.param .u64 x) .maxntid 64 { ret; }\n"
      ".visible .entry fmha(\n    .param .align 64 .b8 fwd_params[640]\n)\n"
      ".maxntid 288, 1, 1\n.minnctapersm 1\n{\n  ret;\n}\n";
  const PtxEntry e = parse_entry(ptx, "fmha");
  REQUIRE(e.found);
  CHECK(e.entries == 2);
  REQUIRE(e.params.size() == 1);
  CHECK(e.params[0].align == 64);
  CHECK(e.params[0].type == "b8");
  CHECK(e.params[0].name == "fwd_params");
  CHECK(e.params[0].array == 640);
  CHECK(e.has_maxntid);
  CHECK(e.maxntid[0] * e.maxntid[1] * e.maxntid[2] == 288);
  CHECK_FALSE(e.has_reqntid);
  const PtxEntry o = parse_entry(ptx, "other");
  REQUIRE(o.found);
  REQUIRE(o.params.size() == 1);
  CHECK(o.params[0].align == 0);
  CHECK(o.params[0].array == -1);
  CHECK(o.maxntid[0] == 64);
  CHECK_FALSE(parse_entry(ptx, "missing").found);
}

TEST_CASE("helpers: parse_ptxas_report reads spills, registers, shared memory and warnings") {
  const std::string rep =
      "ptxas info    : 0 bytes gmem\n"
      "ptxas info    : Compiling entry function 'k' for 'sm_90a'\n"
      "ptxas info    : Function properties for k\n"
      "    16 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads\n"
      "ptxas info    : Used 200 registers, used 1 barriers, 1024 bytes smem\n"
      "ptxas warning : setmaxnreg ignored; unable to determine register count at entry\n";
  const PtxasReport r = parse_ptxas_report(rep);
  REQUIRE(r.entries.size() == 1);
  CHECK(r.entries[0] == "k");
  CHECK(r.targets[0] == "sm_90a");
  CHECK(r.stack_frame == 16);
  CHECK(r.spill_stores == 8);
  CHECK(r.spill_loads == 4);
  CHECK(r.registers == 200);
  CHECK(r.static_smem == 1024);
  CHECK(r.problems.size() == 1);
  const PtxasReport serialized = parse_ptxas_report(
      "ptxas info    : (C7513) Potential Performance Loss: wgmma.mma_async instructions are serialized due to "
      "non wgmma instructions defining input registers of a wgmma between start and end of the pipeline stage "
      "in the function 'k'\n"
      "ptxas info    : Used 168 registers, used 16 barriers\n");
  CHECK(serialized.problems.size() == 1);
  CHECK(serialized.registers == 168);
}

TEST_CASE("helpers: parse_sass counts base opcodes per function, predicates skipped") {
  const std::string sass =
      "\tcode for sm_90a\n\t\tFunction : k1\n"
      "        /*0000*/                   LDC R1, c[0x0][0x28] ;   /* 0x00000a00ff017b82 */\n"
      "                                                             /* 0x000fe20000000800 */\n"
      "        /*0010*/              @!UP1 HGMMA.64x128x16.F32.BF16 R24, gdesc[UR4], RZ ;  /* 0x0 */\n"
      "        /*0020*/                   LDL.64 R2, [R1] ;   /* 0x0 */\n"
      "\t\tFunction : k2\n"
      "        /*0000*/               @P0 STL [R1], R2 ;   /* 0x0 */\n"
      "        /*0010*/                   EXIT ;   /* 0x0 */\n";
  const auto fns = parse_sass(sass);
  REQUIRE(fns.size() == 2);
  CHECK(fns[0].name == "k1");
  CHECK(fns[0].opcodes.at("HGMMA") == 1);
  CHECK(fns[0].opcodes.at("LDL") == 1);
  CHECK(fns[0].opcodes.at("LDC") == 1);
  CHECK(fns[0].opcodes.count("STL") == 0);
  CHECK(fns[1].opcodes.at("STL") == 1);
  CHECK(fns[1].opcodes.at("EXIT") == 1);
}

TEST_CASE("helpers: the parallel reference equals one reference_fwd call") {
  for (int causal = 0; causal <= 1; ++causal) {
    for (int sq : {300, 150}) {
      CAPTURE(causal);
      CAPTURE(sq);
      FwdProblem p = fwd_problem(2, sq, 200, 4, 2, 64, causal != 0);
      p.q = make_layout(2, sq, 4, 64, Order::BHSD, 8, 16, 8);
      p.k = make_layout(2, 200, 2, 64, Order::BSHD, 8, 0, 0);
      const FwdHostInputs in = random_inputs(p, 99 + causal);
      const FwdReference par = reference(p, in);
      ptxfmha::RefShape s;
      s.batch = p.batch; s.seqlen_q = p.seqlen_q; s.seqlen_k = p.seqlen_k; s.heads_q = p.heads_q;
      s.heads_kv = p.heads_kv; s.head_dim = p.head_dim; s.causal = p.causal;
      s.softmax_scale = p.scale();
      for (int i = 0; i < 3; ++i) { s.q_stride[i] = p.q.stride[i]; s.k_stride[i] = p.k.stride[i]; s.v_stride[i] = p.v.stride[i]; }
      std::vector<double> o, l;
      ptxfmha::reference_fwd(s, in.q.data(), in.k.data(), in.v.data(), o, l);
      REQUIRE(o.size() == par.o.size());
      REQUIRE(l.size() == par.lse.size());
      // Same arithmetic in the same order per row: equal bit for bit.
      CHECK(std::memcmp(o.data(), par.o.data(), o.size() * sizeof(double)) == 0);
      CHECK(std::memcmp(l.data(), par.lse.data(), l.size() * sizeof(double)) == 0);
      long long empty = 0;
      for (double x : par.lse) empty += std::isinf(x);
      CHECK(empty == (causal && sq > 200 ? 2LL * 4 * (sq - 200) : 0));
    }
  }
}

namespace {
// A correct output for `p`: the reference rounded to bf16 into the O layout, padding poisoned.
FwdOutputs perfect_outputs(const FwdProblem& p, const FwdReference& ref) {
  FwdOutputs out;
  out.o.assign(static_cast<std::size_t>(p.o.elems), kPoisonBf16);
  std::size_t n = 0;
  for (int b = 0; b < p.batch; ++b)
    for (int s = 0; s < p.seqlen_q; ++s)
      for (int h = 0; h < p.heads_q; ++h)
        for (int d = 0; d < p.head_dim; ++d, ++n)
          out.o[static_cast<std::size_t>(elem_index(p.o, b, s, h, d))] =
              ptxfmha::float_to_bf16(static_cast<float>(ref.o[n]));
  for (double x : ref.lse) out.lse.push_back(static_cast<float>(x));
  return out;
}
}  // namespace

TEST_CASE("helpers: evaluate() and within_bounds() catch every kind of wrong output") {
  FwdProblem p = fwd_problem(1, 40, 30, 2, 1, 64, true);  // causal, 10 rows per head see no key
  p.o = make_layout(1, 40, 2, 64, Order::BSHD, 8, 8, 0);   // padded O
  const FwdHostInputs in = random_inputs(p, 7);
  const FwdReference ref = reference(p, in);
  const Tolerance tol;
  std::string why;

  const FwdOutputs good = perfect_outputs(p, ref);
  FwdFigures f = evaluate(p, good, ref, tol);
  CHECK_MESSAGE(within_bounds(p, f, good, ref, tol, &why), why);
  CHECK(f.o.rel_l2 < 5e-3);
  CHECK(f.o.cosine > 0.99999);

  const int64_t at = elem_index(p.o, 0, 25, 1, 3);  // a row that sees keys
  const std::size_t dense_at = (std::size_t(25) * 2 + 1) * 64 + 3;
  {
    FwdOutputs bad = good;
    bad.o[static_cast<std::size_t>(at)] = kPoisonBf16;
    f = evaluate(p, bad, ref, tol);
    CHECK(f.unwritten == 1);
    CHECK_FALSE(within_bounds(p, f, bad, ref, tol, &why));
  }
  {
    FwdOutputs bad = good;
    bad.o[static_cast<std::size_t>(at)] = ptxfmha::float_to_bf16(static_cast<float>(ref.o[dense_at] + 0.5));
    f = evaluate(p, bad, ref, tol);
    CHECK(f.o.first_bad == static_cast<long long>(dense_at));
    CHECK_FALSE(within_bounds(p, f, bad, ref, tol, &why));
    CHECK(why.find("(b=0 s=25 h=1 d=3)") != std::string::npos);
  }
  {
    FwdOutputs bad = good;
    bad.o[static_cast<std::size_t>(elem_index(p.o, 0, 3, 0, 64))] = 0;  // padding after a row
    f = evaluate(p, bad, ref, tol);
    CHECK(f.pad_clobbered == 1);
    CHECK_FALSE(within_bounds(p, f, bad, ref, tol, &why));
  }
  {
    FwdOutputs bad = good;  // row 2 sees no key (bottom-right: rows 0..9 of each head)
    bad.o[static_cast<std::size_t>(elem_index(p.o, 0, 2, 0, 0))] = ptxfmha::float_to_bf16(1e-3f);
    f = evaluate(p, bad, ref, tol);
    CHECK(f.empty_row_nonzero == 1);
    CHECK_FALSE(within_bounds(p, f, bad, ref, tol, &why));
  }
  {
    FwdOutputs bad = good;
    bad.lse[2] = 0.0f;  // (b=0, h=0, s=2): must be -inf
    f = evaluate(p, bad, ref, tol);
    CHECK(f.lse_inf_mismatch == 1);
    CHECK_FALSE(within_bounds(p, f, bad, ref, tol, &why));
  }
  {
    FwdOutputs bad = good;
    bad.lse[40 + 30] += 0.01f;  // (b=0, h=1, s=30)
    f = evaluate(p, bad, ref, tol);
    CHECK(f.lse_first_bad == 70);
    CHECK_FALSE(within_bounds(p, f, bad, ref, tol, &why));
  }
  {
    FwdOutputs bad = good;
    uint32_t poison = kPoisonF32;
    std::memcpy(&bad.lse[50], &poison, 4);
    f = evaluate(p, bad, ref, tol);
    CHECK(f.lse_unwritten == 1);
    CHECK_FALSE(within_bounds(p, f, bad, ref, tol, &why));
  }
  {
    // A transposed (h <-> d mixed) output: large error, caught by rel_l2 and cosine too.
    FwdOutputs bad = good;
    for (int s = 10; s < 40; ++s)
      for (int d = 0; d < 64; ++d)
        std::swap(bad.o[static_cast<std::size_t>(elem_index(p.o, 0, s, 0, d))],
                  bad.o[static_cast<std::size_t>(elem_index(p.o, 0, s, 1, d))]);
    f = evaluate(p, bad, ref, tol);
    CHECK(f.o.rel_l2 > tol.rel_l2);
    CHECK(f.o.cosine < tol.cosine);
    CHECK_FALSE(within_bounds(p, f, bad, ref, tol, &why));
  }
  CHECK(good == good);
  FwdOutputs other = good;
  other.o[0] ^= 1;
  CHECK_FALSE(other == good);
}
