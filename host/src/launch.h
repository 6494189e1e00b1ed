// Launch: one cuLaunchKernelEx with the project's single by-value parameter block.
//
// Invariants: stateless, thread-safe; every kernel takes exactly one parameter (the
// kernel's .param block, kernel_abi.h / decode_abi.h); the grid and block come from a launch
// plan (fwd_plan.h, decode.h) and are passed through unchanged.
#pragma once
#include <cuda.h>

#include "ptxfmha/ptxfmha.h"

namespace ptxfmha {

struct LaunchDims {
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  unsigned cluster[3] = {1, 1, 1};  // all 1 = no cluster attribute
  unsigned smem_bytes = 0;          // dynamic shared memory
  CUstream stream = nullptr;
  // Programmatic dependent launch: the kernel may start before the previous kernel in the
  // stream finishes; it waits for it with griddepcontrol.wait (decode's combine kernel).
  bool programmatic_serialization = false;
};
// Whether the environment variable `name` is exactly "0": the A/B switches that turn a launch
// choice off (PTXFMHA_DECODE_PDL, PTXFMHA_BWD_PDL, PTXFMHA_BWD_ROTATE). Read at each call.
bool env_says_off(const char* name);

// cuLaunchKernelEx(f, dims, kernelParams = {param_block}) with the cluster and PDL attributes
// that `dims` asks for. `what` names the kernel in the error message. Errors: CUDA.
ptxfmha_status launch_kernel(CUfunction f, const LaunchDims& dims, const void* param_block,
                             const char* what);

}  // namespace ptxfmha
