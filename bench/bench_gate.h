// Preparing a case, with the correctness gate before anything is timed:
//   - outputs poisoned with NaN, each side (and each cuDNN plan the tuner may time) runs once;
//   - each against the float64 CPU reference on sampled rows (the first rows of batch 0 and
//     the last rows of the last batch: with bottom-right masking each block is an attention
//     problem of its own), and ours against cuDNN's chosen plan over the whole O and LSE
//     (bench_util.h: relative L2, cosine, LSE, no non-finite value).
// A side that fails is not timed; its entry carries the reason.
#pragma once

#include "bench_device.h"

namespace ptxfmha_bench {

// Everything a case needs before timing: rotation sets, page tables, ptx-fmha's plan, the
// cuDNN graph (plans gated and tuned, bench_cudnn_side.h), the gate. Prints a progress line.
void prepare_case(const Case& c, CaseState& cs, int index, int total);

// Set 0's output and LSE of `side` (kOurs / kCudnn) against the case's float64 reference on
// the sampled rows (computed on first use, then kept in cs.ref).
Agreement check_vs_reference(const Case& c, CaseState& cs, int side);

}  // namespace ptxfmha_bench
