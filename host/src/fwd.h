// Internal forward entry points (tests and comparison benchmarks). The public one is
// ptxfmha_fwd() in ptxfmha.h, which selects the row with find_kernel().
#pragma once
#include "kernel_table.h"
#include "ptxfmha/ptxfmha.h"

namespace ptxfmha {

// ptxfmha_fwd on a given kernel table row instead of the default one for the head dim, so that
// comparison variants (e.g. sm100a's P-through-shared-memory kernels) can be run and tested.
// Same validation; additionally the row must be a forward row of the current device's
// architecture for params->head_dim (PTXFMHA_ERR_INVALID_ARGUMENT otherwise). row == nullptr
// behaves exactly like ptxfmha_fwd.
ptxfmha_status fwd_with_row(const ptxfmha_fwd_params* params, const KernelInfo* row);

}  // namespace ptxfmha
