// Driver context and device info: which context a call runs in and what its device is.
//
//   context    acquire_context(): the calling thread's current CUDA context if it has one,
//              else device 0's primary context (retained once per process, made current).
//   arch       compute capability -> kernel folder: 9.0 -> "sm90a", 10.0 -> "sm100a"; other
//              10.x (10.1, 10.3, ...) have none: sm_100a code runs on 10.0 only.
//
// Invariants: thread-safe (one mutex guards the primary context and the per-device attribute
// cache); device 0's primary context is retained once and never released; device attributes
// are queried once per CUdevice and cached for the process lifetime. DeviceInfo is a plain
// value: pure functions (fwd_plan.h) read its num_sms / l2_bytes and tests fill it by hand.
#pragma once
#include <cuda.h>

#include "ptxfmha/ptxfmha.h"

namespace ptxfmha {

struct DeviceInfo {
  CUcontext ctx = nullptr;
  unsigned long long ctx_id = 0;  // cuCtxGetId, unique per context for the process lifetime
  CUdevice device = 0;
  int cc_major = 0, cc_minor = 0;
  int sm = 0;                     // cc_major*10 + cc_minor, as KernelInfo::sm (90, 100, 103)
  const char* arch = nullptr;     // "sm90a" / "sm100a"; nullptr if no kernels for this device
  int num_sms = 0;
  int max_smem_optin_bytes = 0;   // CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
  int l2_bytes = 0;               // CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE
};

// driver_init, then the calling thread's current context, else device 0's primary context
// (made current on this thread). Fills everything in *out. Errors: NO_DRIVER, NO_DEVICE,
// CUDA. Does NOT fail for an unsupported architecture (out->arch == nullptr then):
// call require_arch() when kernels are needed.
ptxfmha_status acquire_context(DeviceInfo* out);
// PTXFMHA_ERR_UNSUPPORTED_ARCH naming the device's compute capability when info.arch is null
// (for 10.x, also what to do: a cc 10.0 device, or the kernels assembled for the device's target).
ptxfmha_status require_arch(const DeviceInfo& info);
// Kernel folder for a compute capability: (9,0) -> "sm90a", (10,0) -> "sm100a", else nullptr.
const char* arch_for_cc(int cc_major, int cc_minor);
// acquire_context + require_arch.
ptxfmha_status acquire_device(DeviceInfo* out);

}  // namespace ptxfmha
