// Internal forward entry points (tests and comparison benchmarks) and the one launch path of
// every forward kernel: ptxfmha_fwd (kernel_abi.h's FwdKernelParams rows) and ptxfmha_attn with
// features (attn_kernel_abi.h's AttnKernelParams rows) both end in fwd.cpp's launch, which
// builds the tensor maps, the launch plan (fwd_plan.h) and the row's parameter block.
#pragma once
#include <cstdint>

#include "context.h"
#include "kernel_table.h"
#include "ptxfmha/ptxfmha.h"

namespace ptxfmha {

// ptxfmha_fwd on a given kernel table row instead of the default one for the head dim, so that
// comparison variants (e.g. sm100a's P-through-shared-memory kernels, or the sm90a feature
// rows with every feature off) can be run and tested. Same validation; additionally the row
// must be a forward row of the current device's architecture for params->head_dim
// (PTXFMHA_ERR_INVALID_ARGUMENT otherwise). row == nullptr behaves exactly like ptxfmha_fwd.
ptxfmha_status fwd_with_row(const ptxfmha_fwd_params* params, const KernelInfo* row);

// The forward row of the architecture of compute capability sm and head_dim whose features
// (KernelInfo::features) cover `features` with the fewest extra bits, or nullptr. Pure.
const KernelInfo* find_attn_row(int sm, int head_dim, uint32_t features);

// ptxfmha_attn's launch of a call with features on `row` (a row of find_attn_row): p is
// validated (validate_attn_shape), the device acquired and its ranges checked. Builds the
// AttnKernelParams (attn_kernel_abi.h) and launches through the forward's launch path.
ptxfmha_status attn_launch(const ptxfmha_attn_params& p, const DeviceInfo& dev, const KernelInfo& row);

// The AttnKernelParams fields past the plain block as the launch path fills them for a call
// (exposed for tests/test_cpu_launch_plan.cpp): the canonical window in the kernels' form
// (INT32_MAX = unbounded side; right + 1), the score constants, the LSE / O strides of the
// layouts. `features` are the call's AttnFeature bits (0 for a plain call on a feature row).
struct AttnExtFields {
  uint32_t features = 0;
  int32_t window_left = 0, window_right1 = 0;
  float softcap_pre = 0, softcap_post = 0, alibi_mul = 0;
  int32_t lse_head_stride = 0, lse_batch_stride = 0;
  int64_t o_seqbase_stride = 0;
  int32_t page_shift = 0, box_shift = 0;
};
AttnExtFields attn_ext_fields(const ptxfmha_attn_params& p, uint32_t features, const KernelInfo& row);

}  // namespace ptxfmha
