// cuLaunchKernelEx with cluster / PDL attributes. See launch.h.
#include "launch.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "driver.h"
#include "status.h"

namespace ptxfmha {

bool env_says_off(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && std::strcmp(v, "0") == 0;
}

ptxfmha_status launch_kernel(CUfunction f, const LaunchDims& dims, const void* param_block,
                             const char* what) {
  const DriverApi& d = drv();
  CUlaunchConfig cfg;
  std::memset(&cfg, 0, sizeof cfg);
  cfg.gridDimX = dims.grid[0];
  cfg.gridDimY = dims.grid[1];
  cfg.gridDimZ = dims.grid[2];
  cfg.blockDimX = dims.block[0];
  cfg.blockDimY = dims.block[1];
  cfg.blockDimZ = dims.block[2];
  cfg.sharedMemBytes = dims.smem_bytes;
  cfg.hStream = dims.stream;
  CUlaunchAttribute attr[2];
  std::memset(attr, 0, sizeof attr);
  unsigned n = 0;
  if (dims.cluster[0] * dims.cluster[1] * dims.cluster[2] > 1) {
    attr[n].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
    attr[n].value.clusterDim.x = dims.cluster[0];
    attr[n].value.clusterDim.y = dims.cluster[1];
    attr[n].value.clusterDim.z = dims.cluster[2];
    ++n;
  }
  if (dims.programmatic_serialization) {
    attr[n].id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attr[n].value.programmaticStreamSerializationAllowed = 1;
    ++n;
  }
  cfg.attrs = n ? attr : nullptr;
  cfg.numAttrs = n;
  void* args[1] = {const_cast<void*>(param_block)};
  CUresult r = d.cuLaunchKernelEx(&cfg, f, args, nullptr);
  if (r != CUDA_SUCCESS) {
    char m[640];
    std::snprintf(m, sizeof m, "launch of %s (grid %u,%u,%u block %u,%u,%u cluster %u,%u,%u, %u B smem)",
                  what ? what : "kernel", dims.grid[0], dims.grid[1], dims.grid[2], dims.block[0],
                  dims.block[1], dims.block[2], dims.cluster[0], dims.cluster[1], dims.cluster[2],
                  dims.smem_bytes);
    return fail_cuda(r, m);
  }
  return PTXFMHA_OK;
}

}  // namespace ptxfmha
