// Device pointer range check. See device_range.h.
#include "device_range.h"

#include <cuda.h>

#include "driver.h"
#include "status.h"

namespace ptxfmha {

ptxfmha_status check_device_range(const char* name, uint64_t lo, uint64_t hi) {
  const DriverApi& d = drv();
  const uint64_t probes[2] = {lo, hi > lo ? hi - 1 : lo};
  for (int i = 0; i < 2; ++i) {
    unsigned int type = 0;
    CUresult r = d.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                         static_cast<CUdeviceptr>(probes[i]));
    if (r == CUDA_ERROR_INVALID_VALUE || r == CUDA_ERROR_NOT_FOUND) {
      if (i == 0)
        return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                    "%s = 0x%llx is not memory known to CUDA (a host pointer? %s)", name,
                    static_cast<unsigned long long>(lo), cu_error_message(r).c_str());
      return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                  "%s: the tensor's last byte 0x%llx (extent %llu bytes from 0x%llx) is not in "
                  "memory known to CUDA: the allocation is smaller than the sizes and strides say",
                  name, static_cast<unsigned long long>(probes[1]),
                  static_cast<unsigned long long>(hi - lo), static_cast<unsigned long long>(lo));
    }
    if (r != CUDA_SUCCESS) return fail_cuda(r, "cuPointerGetAttribute(MEMORY_TYPE)");
  }
  return PTXFMHA_OK;
}

}  // namespace ptxfmha
