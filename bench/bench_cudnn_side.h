// cuDNN at its best, per case: the SDPA graph is built with every engine configuration the
// heuristics offer (modes A, B and fallback; --ptxfmha_cudnn_autotune=0: mode A's first
// supported one, cuDNN's own choice), each built plan runs once on poisoned outputs and must
// pass the float64 reference check, the passing plans are timed interleaved with the headline
// method (--ptxfmha_tune_samples batches each), and the fastest is kept. The choice is cached
// per graph (SdpaProblem::key) for the rest of the run: a later cell with the same graph
// gates and uses it without timing again.
#pragma once

#include "bench_device.h"

namespace ptxfmha_bench {

// Builds, gates and tunes cs.cudnn for case c; afterwards set 0's cuDNN output is the chosen
// plan's, checked. Fills cs.cudnn_plans/cudnn_chosen/cudnn_choice/cudnn_check, or
// cs.cudnn_skip. True when the chosen plan ran and passed.
bool prepare_cudnn(const Case& c, CaseState& cs);

}  // namespace ptxfmha_bench
