// GPU tests of the attention backward (suite "gpu-sm90a", skipped without a device):
//   - cuDNN's SDPA backward (bench/cudnn_sdpa.cpp, the heuristics' first plan) on the same
//     inputs as ptxfmha_bwd (Q, K, V, O, dO, LSE), both measured against the same float64
//     reference with the same figures (bwd_test_util.h), printed side by side per tensor:
//     "compare your error with cuDNN's on the same inputs". Ours must pass its bounds; cuDNN's
//     figures are information (a cuDNN outside them is printed, not failed);
//   - every main-kernel variant of the kernel table (ptx/manifest/sm90_bwd.h, rows after the
//     defaults) through bwd_with_main_row on residue, causal (seqlen_q > seqlen_k and <), GQA
//     and padded-stride shapes, both modes, the workspace (D, -LSE*log2e, dQ accumulator)
//     checked too, the deterministic mode bitwise over 3 runs.
// Run alone: build/tests/ptxfmha_tests -tc='gpu bwd: cuDNN*,gpu bwd: main-kernel variants*'
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "bwd_test_util.h"
#include "cudnn_sdpa.h"

using namespace ptxfmha_test;
namespace pb = ptxfmha_bench;

namespace {


// One line of figures per tensor: ours | cuDNN.
std::string side_by_side(const BwdFigures& ours, const BwdFigures* cud) {
  std::string s;
  const TensorFigures* o[3] = {&ours.dq, &ours.dk, &ours.dv};
  const TensorFigures* c[3] = {cud ? &cud->dq : nullptr, cud ? &cud->dk : nullptr, cud ? &cud->dv : nullptr};
  for (int i = 0; i < 3; ++i) {
    char buf[300];
    std::snprintf(buf, sizeof buf, "\n    %s  ours rel_l2 %.3e max_abs %.3e cos %.7f bound_use %.3f", o[i]->name,
                  o[i]->e.rel_l2, o[i]->e.max_abs, o[i]->e.cosine, o[i]->worst_ratio);
    s += buf;
    if (c[i]) {
      std::snprintf(buf, sizeof buf, " | cuDNN rel_l2 %.3e max_abs %.3e cos %.7f bound_use %.3f", c[i]->e.rel_l2,
                    c[i]->e.max_abs, c[i]->e.cosine, c[i]->worst_ratio);
      s += buf;
    }
  }
  return s;
}

}  // namespace

TEST_CASE("gpu bwd: cuDNN's SDPA backward on the same inputs, its error beside ours" *
          doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  const pb::CudnnLibrary& lib = pb::cudnn_library();
  if (!lib.loaded) MESSAGE("cuDNN not loaded (only ours is measured): " << lib.why);
  uint64_t seed = 700;
  // One cuDNN graph per shape (each builds its heuristics' first plan, which may compile at run
  // time: seconds), so few shapes: causal with GQA 4 and seqlen_q < seqlen_k at every head dim,
  // non-causal MHA at 128.
  struct S { int d, b, sq, sk, hq, hkv; bool causal; };
  std::vector<S> shapes;
  for (int d : bwd_head_dims()) shapes.push_back({d, 1, 700, 1000, 8, 2, true});
  shapes.push_back({128, 2, 512, 512, 4, 4, false});
  for (const S& sh : shapes) {
    const int d = sh.d;
    {
      const BwdProblem p = bwd_problem(sh.b, sh.sq, sh.sk, sh.hq, sh.hkv, d, sh.causal);
      CAPTURE(describe(p));
      const BwdHostInputs in = bwd_inputs(p, seed++);
      const BwdReference ref = bwd_reference(p, in);
      BwdDeviceCase dc(p, in);
      BwdOutputs ours;
      dc.run(&ours);
      const BwdFigures fo = evaluate_bwd(p, ours, ref);
      CHECK_MESSAGE(bwd_failure(p, fo).empty(), "ours: " << bwd_failure(p, fo));
      // cuDNN: the same device inputs, its own outputs (poisoned), its own workspace.
      std::string why;
      BwdFigures fc;
      bool have_cudnn = false;
      if (lib.loaded) {
        pb::SdpaProblem sp;
        sp.batch = p.batch; sp.seqlen_q = p.seqlen_q; sp.seqlen_k = p.seqlen_k;
        sp.heads_q = p.heads_q; sp.heads_kv = p.heads_kv; sp.head_dim = p.head_dim;
        for (int i = 0; i < 3; ++i) {
          sp.q_stride[i] = p.q.stride[i]; sp.k_stride[i] = p.k.stride[i]; sp.v_stride[i] = p.v.stride[i];
          sp.o_stride[i] = p.o.stride[i];
        }
        sp.softmax_scale = p.scale();
        sp.causal = p.causal;
        sp.lse = true;
        sp.backward = true;
        pb::CudnnSdpa sdpa;
        if (sdpa.build(sp, nullptr, false, 1, &why)) {
          DeviceBuffer dq, dk, dv, ws;
          dq.alloc(std::size_t(p.dq.elems) * 2); dk.alloc(std::size_t(p.dk.elems) * 2); dv.alloc(std::size_t(p.dv.elems) * 2);
          dq.fill16(kPoisonBf16, std::size_t(p.dq.elems)); dk.fill16(kPoisonBf16, std::size_t(p.dk.elems));
          dv.fill16(kPoisonBf16, std::size_t(p.dv.elems));
          ws.alloc(std::max<std::size_t>(sdpa.workspace_bytes(), 16));
          const ptxfmha_bwd_params a = dc.params();
          pb::SdpaBuffers b;
          b.q = a.q; b.k = a.k; b.v = a.v; b.o = const_cast<void*>(a.o); b.lse = const_cast<float*>(a.lse);
          b.dout = a.dout; b.dq = dq.get(); b.dk = dk.get(); b.dv = dv.get(); b.workspace = ws.get();
          if (sdpa.run(b, &why)) {
            PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
            BwdOutputs co;
            dq.download(co.dq, std::size_t(p.dq.elems));
            dk.download(co.dk, std::size_t(p.dk.elems));
            dv.download(co.dv, std::size_t(p.dv.elems));
            fc = evaluate_bwd(p, co, ref);
            have_cudnn = true;
            why = "cuDNN " + lib.version_string() + " plan " + sdpa.plan_name() +
                  (bwd_failure(p, fc).empty() ? "" : " (outside our bounds: " + bwd_failure(p, fc) + ")");
          }
        }
      }
      MESSAGE(describe(p) << side_by_side(fo, have_cudnn ? &fc : nullptr) << "\n    "
                          << (have_cudnn ? why : "cuDNN: " + why));
    }
  }
}

TEST_CASE("gpu bwd: main-kernel variants of the kernel table (residues, causal, GQA, strides, both modes)" *
          doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  int variants = 0;
  uint64_t seed = 800;
  for (const ptxfmha::KernelInfo* row : ptxfmha::all_kernels()) {
    if (row->kind != ptxfmha::KernelKind::Bwd || row->sm != gpu().info.sm) continue;
    if (ptxfmha::find_kernel(row->sm, ptxfmha::KernelKind::Bwd, row->head_dim) == row) continue;  // a default
    ++variants;
    const std::string name = row->name;
    const int d = row->head_dim, bm = row->block_m, bn = row->block_n;
    std::vector<BwdProblem> ps = {
        bwd_problem(1, bm, bn, 1, 1, d, false), bwd_problem(1, 17, 33, 1, 1, d, false),
        bwd_problem(1, bm, bn, 1, 1, d, true),  bwd_problem(2, 300, 260, 4, 2, d, true, true),
        bwd_problem(1, 700, 129, 4, 4, d, true), bwd_problem(1, 129, 700, 4, 1, d, false, true),
        bwd_problem(2, 255, 255, 8, 1, d, true, true), bwd_problem(1, 1024, 2048, 2, 2, d, true, true)};
    BwdProblem padded = bwd_problem(1, 65, 131, 4, 2, d, true, false);
    padded.q = make_layout(1, 65, 4, d, Order::BSHD, 8, 16, 0);
    padded.dout = make_layout(1, 65, 4, d, Order::BHSD, 0, 8, 0);
    padded.k = make_layout(1, 131, 2, d, Order::BHSD, 8, 0, 0);
    padded.dk = make_layout(1, 131, 2, d, Order::BSHD, 16, 8, 0);
    ps.push_back(padded);
    for (const BwdProblem& p : ps) {
      CAPTURE(name);
      CAPTURE(describe(p));
      const BwdHostInputs in = bwd_inputs(p, seed++);
      const BwdReference ref = bwd_reference(p, in);
      BwdDeviceCase dc(p, in);
      BwdOutputs first, again;
      dc.run(&first, true, nullptr, 0, row);
      const BwdFigures f = evaluate_bwd(p, first, ref);
      std::string why = bwd_failure(p, f);
      const WorkspaceFigures w = evaluate_workspace(p, in, ref, first.ws, *row);
      if (!w.first.empty()) why += "workspace: " + w.first + "; ";
      bool same = true;
      for (int r = 1; r < (p.deterministic ? 3 : 2); ++r) {
        dc.run(&again, false, nullptr, 0, row);
        same = same && first.same_bits(again, p.deterministic);
      }
      MESSAGE(name << " " << describe(p) << ": " << describe(f.dq) << " | " << describe(f.dk) << " | "
                   << describe(f.dv));
      CHECK_MESSAGE(why.empty(), name << ": " << why);
      CHECK_MESSAGE(same, name << ": runs differ bitwise");
    }
  }
  MESSAGE("backward main-kernel variants tested: " << variants);
}
