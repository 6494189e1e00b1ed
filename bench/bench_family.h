// The case registry: how one kind of case ("family") runs on both sides.
//
// A family is the only place that knows how a case becomes a ptx-fmha call and a cuDNN graph;
// everything else (arenas, rotation, the correctness gate against cuDNN and the float64
// reference, cuDNN autotuning, interleaved timing, clocks, the report) is shared and works
// from the Case (bench_case.h) and the SetView (bench_device.h). A new family is one file:
//
//   class MyFamily final : public Family {
//     const char* id() const override { return "mine"; }          // Case::family
//     std::string ours_prepare(...) const override;               // kernel lookup, workspace
//     std::string ours_launch(...) const override;                // ptxfmha_* on a SetView
//     SdpaProblem cudnn_problem(const Case&) const override;       // the cuDNN graph's problem
//   };
//   static const FamilyRegistrar kMine(std::make_unique<MyFamily>());
//
// plus its grid in bench_case.cpp (pure, so the CPU tests see it) and the cells added in
// bench_fmha.cpp's make_cases(). bench/METHOD.md, "Adding a case", has the whole recipe;
// family_fwd.cpp is the shortest example.
#pragma once

#include <memory>
#include <string>

#include "bench_case.h"
#include "bench_device.h"
#include "cudnn_sdpa.h"

namespace ptxfmha_bench {

class Family {
 public:
  virtual ~Family() = default;
  virtual const char* id() const = 0;
  // Finds ptx-fmha's kernel for the case on this device and sizes the library workspace one
  // rotation set needs (set0 holds valid pointers). "" when ours can run, else why not.
  virtual std::string ours_prepare(const Case& c, const SetView& set0, OursPlan* plan) const = 0;
  // Enqueues one ptx-fmha call on g_stream. "" or the error.
  virtual std::string ours_launch(const Case& c, const OursPlan& plan, const SetView& v) const = 0;
  // The same problem for cuDNN (CudnnSdpa::build). The default: dense Q/K/V/O/LSE of the case.
  virtual SdpaProblem cudnn_problem(const Case& c) const;

  // The gate's view of the outputs (bench_gate.h). The defaults (bench_gate.cpp) are the
  // forward's: O and LSE. A family with other outputs overrides them (family_bwd.cpp: the
  // gradients, from inputs it makes in prepare_inputs).
  // Inputs beyond the arena's random ones, every rotation set, before the gate: "" or the error.
  virtual std::string prepare_inputs(const Case& c, CaseState& cs) const;
  // Set 0's outputs of `side` against the float64 reference on sampled rows.
  virtual Agreement check_vs_reference(const Case& c, CaseState& cs, int side) const;
  // Set 0's outputs, ours against cuDNN's (its chosen plan), whole tensors.
  virtual Agreement compare_sides(const Case& c, CaseState& cs) const;
  // The correctness gate of one side against the float64 reference (set 0's outputs). A family
  // whose cases the dense reference cannot describe (ragged, window, softcap, sinks) fills *out
  // and returns true; the default (false) leaves it to the dense sampled reference.
  virtual bool reference_check(const Case&, CaseState&, int /*side*/, Agreement* /*out*/) const { return false; }
  // Whether both sides compute the same problem, so their whole outputs must agree (false
  // where cuDNN runs without a feature it lacks: the softcap cells).
  virtual bool same_problem_as_cudnn(const Case&) const { return true; }
};

// Registers a family at static-initialisation time (one object per family file).
struct FamilyRegistrar {
  explicit FamilyRegistrar(std::unique_ptr<Family> f);
};
// The family of a case; nullptr when none is registered under that id.
const Family* family_for(const std::string& id);

// Helpers families share.
// ptx-fmha's softmax scale: the case's, times PTXFMHA_BENCH_PERTURB_SCALE.
float ours_scale(const Case& c);
// "no ptx-fmha <kind> kernel for head_dim D on ARCH (head dims with kernels: ...)".
std::string no_kernel_message(const Case& c, ptxfmha::KernelKind kind, const char* what);
// "<call>: <status>: <last error>" for a failed ptx-fmha call, "" for PTXFMHA_OK.
std::string status_message(const char* call, ptxfmha_status st);
// ptxfmha_fwd's parameters for a dense case on a SetView (Q, K, V in; O, LSE out), on g_stream.
ptxfmha_fwd_params dense_fwd_params(const Case& c, const SetView& v, float softmax_scale);

}  // namespace ptxfmha_bench
