// Driver context, device attributes and architecture. See context.h.
#include "context.h"

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "driver.h"
#include "status.h"

namespace ptxfmha {

const char* arch_for_cc(int cc_major, int cc_minor) {
  if (cc_major == 9 && cc_minor == 0) return "sm90a";
  // sm_100a code (tcgen05, the 'a' feature set) runs on compute capability 10.0 only: 10.1, 10.3,
  // ... get no kernel folder, so require_arch refuses them before anything is loaded or launched.
  if (cc_major == 10 && cc_minor == 0) return "sm100a";
  return nullptr;
}

namespace {

struct DeviceAttrs {
  int cc_major = 0, cc_minor = 0, num_sms = 0, max_smem_optin = 0, l2_bytes = 0;
};

// Globals are function-local statics so that calls made during other translation units'
// static initialisation (test registration decorators) find them constructed.
struct CtxGlobals {
  std::mutex mutex;
  CUcontext primary = nullptr;  // device 0's primary context, retained once, never released
  std::map<CUdevice, DeviceAttrs> device_attrs;
};
CtxGlobals& ctx_globals() {
  static CtxGlobals g;
  return g;
}

ptxfmha_status device_attrs(CUdevice dev, DeviceAttrs* out) {
  CtxGlobals& g = ctx_globals();
  {
    std::lock_guard<std::mutex> lock(g.mutex);
    auto it = g.device_attrs.find(dev);
    if (it != g.device_attrs.end()) {
      *out = it->second;
      return PTXFMHA_OK;
    }
  }
  const DriverApi& d = drv();
  DeviceAttrs a;
  const struct {
    CUdevice_attribute attr;
    int* dst;
    const char* name;
  } q[] = {
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &a.cc_major, "compute capability major"},
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &a.cc_minor, "compute capability minor"},
      {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &a.num_sms, "multiprocessor count"},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, &a.max_smem_optin,
       "max shared memory per block (opt-in)"},
      {CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, &a.l2_bytes, "L2 cache size"},
  };
  for (const auto& e : q) {
    CUresult r = d.cuDeviceGetAttribute(e.dst, e.attr, dev);
    if (r != CUDA_SUCCESS) {
      std::string what = std::string("cuDeviceGetAttribute(") + e.name + ")";
      return fail_cuda(r, what.c_str());
    }
  }
  std::lock_guard<std::mutex> lock(g.mutex);
  g.device_attrs[dev] = a;
  *out = a;
  return PTXFMHA_OK;
}

ptxfmha_status primary_context(CUcontext* out) {
  CtxGlobals& g = ctx_globals();
  std::lock_guard<std::mutex> lock(g.mutex);
  if (g.primary != nullptr) {
    *out = g.primary;
    return PTXFMHA_OK;
  }
  const DriverApi& d = drv();
  int count = 0;
  CUresult r = d.cuDeviceGetCount(&count);
  if (r != CUDA_SUCCESS) return fail_cuda(r, "cuDeviceGetCount");
  if (count <= 0) return fail(PTXFMHA_ERR_NO_DEVICE, "no CUDA device (cuDeviceGetCount = 0)");
  CUdevice dev = 0;
  r = d.cuDeviceGet(&dev, 0);
  if (r != CUDA_SUCCESS) return fail_cuda(r, "cuDeviceGet(0)");
  CUcontext ctx = nullptr;
  r = d.cuDevicePrimaryCtxRetain(&ctx, dev);
  if (r == CUDA_ERROR_NO_DEVICE || r == CUDA_ERROR_INVALID_DEVICE)
    return fail_msg(PTXFMHA_ERR_NO_DEVICE, cu_error_message(r, "cuDevicePrimaryCtxRetain(device 0)"));
  if (r != CUDA_SUCCESS) return fail_cuda(r, "cuDevicePrimaryCtxRetain(device 0)");
  g.primary = ctx;
  *out = ctx;
  return PTXFMHA_OK;
}

}  // namespace

ptxfmha_status acquire_context(DeviceInfo* out) {
  std::string msg;
  ptxfmha_status st = driver_init(&msg);
  if (st != PTXFMHA_OK) return fail_msg(st, msg);
  const DriverApi& d = drv();
  CUcontext ctx = nullptr;
  CUresult r = d.cuCtxGetCurrent(&ctx);
  if (r != CUDA_SUCCESS) return fail_cuda(r, "cuCtxGetCurrent");
  if (ctx == nullptr) {
    st = primary_context(&ctx);
    if (st != PTXFMHA_OK) return st;
    r = d.cuCtxSetCurrent(ctx);
    if (r != CUDA_SUCCESS) return fail_cuda(r, "cuCtxSetCurrent(primary context of device 0)");
  }
  CUdevice dev = 0;
  r = d.cuCtxGetDevice(&dev);
  if (r != CUDA_SUCCESS) return fail_cuda(r, "cuCtxGetDevice");
  DeviceAttrs a;
  st = device_attrs(dev, &a);
  if (st != PTXFMHA_OK) return st;
  DeviceInfo info;
  info.ctx = ctx;
  info.ctx_id = reinterpret_cast<uintptr_t>(ctx);
  if (d.cuCtxGetId != nullptr) {
    unsigned long long id = 0;
    r = d.cuCtxGetId(ctx, &id);
    if (r != CUDA_SUCCESS) return fail_cuda(r, "cuCtxGetId");
    info.ctx_id = id;
  }
  info.device = dev;
  info.cc_major = a.cc_major;
  info.cc_minor = a.cc_minor;
  info.sm = a.cc_major * 10 + a.cc_minor;
  info.arch = arch_for_cc(a.cc_major, a.cc_minor);
  info.num_sms = a.num_sms;
  info.max_smem_optin_bytes = a.max_smem_optin;
  info.l2_bytes = a.l2_bytes;
  *out = info;
  return PTXFMHA_OK;
}

ptxfmha_status require_arch(const DeviceInfo& info) {
  if (info.arch != nullptr) return PTXFMHA_OK;
  if (info.cc_major == 10)
    return fail(PTXFMHA_ERR_UNSUPPORTED_ARCH,
                "device %d has compute capability %d.%d (sm_%d); ptx-fmha's Blackwell kernels are built "
                "for sm_100a, which runs on compute capability 10.0 only (B200, GB200): use a cc 10.0 "
                "device, or assemble the ptx/sm100a kernels for this device's target (sm_%da, or sm_100f "
                "for the 10.x family) and add its folder to arch_for_cc (host/src/context.cpp)",
                static_cast<int>(info.device), info.cc_major, info.cc_minor, info.sm, info.sm);
  return fail(PTXFMHA_ERR_UNSUPPORTED_ARCH,
              "device %d has compute capability %d.%d (sm_%d); ptx-fmha has kernels for sm_90a "
              "(cc 9.0) and sm_100a (cc 10.0) only",
              static_cast<int>(info.device), info.cc_major, info.cc_minor, info.sm);
}

ptxfmha_status acquire_device(DeviceInfo* out) {
  ptxfmha_status st = acquire_context(out);
  if (st != PTXFMHA_OK) return st;
  return require_arch(*out);
}

}  // namespace ptxfmha
