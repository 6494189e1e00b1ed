// Module cache: load, check and keep one CUfunction per (context, dir, kernel). See
// module_cache.h.
#include "module_cache.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "cubin.h"
#include "driver.h"
#include "status.h"
#include "tile_counter.h"

namespace ptxfmha {

namespace {

using ModuleKey = std::tuple<unsigned long long, std::string, std::string>;  // ctx id, dir, name
struct ModuleGlobals {
  std::mutex mutex;
  std::map<ModuleKey, LoadedKernel> modules;
};
ModuleGlobals& module_globals() {
  static ModuleGlobals g;
  return g;
}

bool is_image_error(CUresult r) {
  switch (r) {
    case CUDA_ERROR_INVALID_IMAGE:
    case CUDA_ERROR_INVALID_PTX:
    case CUDA_ERROR_INVALID_SOURCE:
    case CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
    case CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND:
    case CUDA_ERROR_SHARED_OBJECT_INIT_FAILED:
    case CUDA_ERROR_INVALID_VALUE:
    case CUDA_ERROR_NOT_FOUND:
      return true;
    default:
      return false;
  }
}

// Loads and checks one kernel; on success the caller caches *out.
ptxfmha_status load_kernel(const DeviceInfo& info, const KernelInfo& row, const std::string& dir,
                           LoadedKernel* out) {
  const DriverApi& d = drv();
  char dev_arch[64];
  std::snprintf(dev_arch, sizeof dev_arch, "%s (sm_%d, cc %d.%d)", info.arch ? info.arch : "none",
                info.sm, info.cc_major, info.cc_minor);
  std::string path = cubin_path(dir, row.arch, row.name);
  std::vector<unsigned char> bytes;
  CubinTarget t;
  ptxfmha_status st = load_cubin_file(path, dev_arch, &bytes, &t);
  if (st != PTXFMHA_OK) return st;
  if (!cubin_matches_device(t, info.sm))
    return fail(PTXFMHA_ERR_CUBIN_WRONG_ARCH, "cubin %s is built for %s (ELF e_flags 0x%08x), device is %s",
                path.c_str(), t.name().c_str(), t.e_flags, dev_arch);
  CUmodule mod = nullptr;
  CUresult r = d.cuModuleLoadData(&mod, bytes.data());
  if (r != CUDA_SUCCESS) {
    std::string m = cu_error_message(r, "cuModuleLoadData");
    if (r == CUDA_ERROR_NO_BINARY_FOR_GPU)
      return fail(PTXFMHA_ERR_CUBIN_WRONG_ARCH, "cubin %s (%s) does not run on device %s: %s",
                  path.c_str(), t.name().c_str(), dev_arch, m.c_str());
    return fail(is_image_error(r) ? PTXFMHA_ERR_CUBIN_INVALID : PTXFMHA_ERR_CUDA,
                "cannot load cubin %s: %s", path.c_str(), m.c_str());
  }
  auto unload_fail = [&](ptxfmha_status s, const std::string& msg) {
    d.cuModuleUnload(mod);
    return fail_msg(s, msg);
  };
  CUfunction fn = nullptr;
  r = d.cuModuleGetFunction(&fn, mod, row.name);
  if (r != CUDA_SUCCESS)
    return unload_fail(is_image_error(r) ? PTXFMHA_ERR_CUBIN_INVALID : PTXFMHA_ERR_CUDA,
                       "cubin " + path + " has no kernel " + row.name + ": " +
                           cu_error_message(r, "cuModuleGetFunction"));
  int max_threads = 0;
  r = d.cuFuncGetAttribute(&max_threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, fn);
  if (r != CUDA_SUCCESS)
    return unload_fail(PTXFMHA_ERR_CUDA, cu_error_message(r, "cuFuncGetAttribute(MAX_THREADS_PER_BLOCK)"));
  if (max_threads < row.threads) {
    char m[512];
    std::snprintf(m, sizeof m,
                  "kernel %s in %s allows at most %d threads per block, its table row launches %d "
                  "(.maxntid or register use disagree with the table)",
                  row.name, path.c_str(), max_threads, row.threads);
    return unload_fail(PTXFMHA_ERR_CUBIN_INVALID, m);
  }
  if (d.cuFuncGetParamInfo != nullptr) {
    size_t off = 0, sz = 0;
    r = d.cuFuncGetParamInfo(fn, 0, &off, &sz);
    size_t off1 = 0, sz1 = 0;
    bool has_second = d.cuFuncGetParamInfo(fn, 1, &off1, &sz1) == CUDA_SUCCESS;
    // Only size and count: the offset is where the driver places the block in its
    // constant-bank parameter area (48 on sm_90 with CUDA 13.0), not 0.
    if (r != CUDA_SUCCESS || sz != static_cast<size_t>(row.param_bytes) || has_second) {
      char m[512];
      std::snprintf(m, sizeof m,
                    "kernel %s in %s: parameter list is not one %d-byte block (param 0: %s, %zu "
                    "bytes at offset %zu%s)",
                    row.name, path.c_str(), row.param_bytes,
                    r == CUDA_SUCCESS ? "present" : "missing", sz, off,
                    has_second ? "; has a second parameter" : "");
      return unload_fail(PTXFMHA_ERR_CUBIN_INVALID, m);
    }
  }
  constexpr int kDefaultDynSmemBytes = 48 * 1024;
  if (row.smem_bytes > kDefaultDynSmemBytes) {
    r = d.cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, row.smem_bytes);
    if (r != CUDA_SUCCESS) {
      char m[600];
      std::snprintf(m, sizeof m,
                    "kernel %s needs %d bytes of dynamic shared memory, device allows %d per block: %s",
                    row.name, row.smem_bytes, info.max_smem_optin_bytes,
                    cu_error_message(r, "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)").c_str());
      return unload_fail(PTXFMHA_ERR_CUDA, m);
    }
  }
  out->module = mod;
  out->function = fn;
  return PTXFMHA_OK;
}

}  // namespace

ptxfmha_status get_kernel(const DeviceInfo& info, const KernelInfo& row, LoadedKernel* out) {
  if (info.arch == nullptr || std::strcmp(row.arch, info.arch) != 0)
    return fail(PTXFMHA_ERR_CUBIN_WRONG_ARCH,
                "kernel %s is built for %s, device has arch %s (sm_%d)", row.name, row.arch,
                info.arch ? info.arch : "none", info.sm);
  std::string dir = cubin_dir();
  ModuleKey key(info.ctx_id, dir, row.name);
  ModuleGlobals& g = module_globals();
  std::lock_guard<std::mutex> lock(g.mutex);  // loads are rare: hold it throughout
  auto it = g.modules.find(key);
  if (it != g.modules.end()) {
    *out = it->second;
    return PTXFMHA_OK;
  }
  LoadedKernel k;
  ptxfmha_status st = load_kernel(info, row, dir, &k);
  if (st != PTXFMHA_OK) return st;
  g.modules.emplace(key, k);
  *out = k;
  return PTXFMHA_OK;
}

void forget_context_modules(unsigned long long ctx_id) {
  {
    ModuleGlobals& g = module_globals();
    std::lock_guard<std::mutex> lock(g.mutex);
    for (auto it = g.modules.begin(); it != g.modules.end();) {
      if (std::get<0>(it->first) == ctx_id) it = g.modules.erase(it);
      else ++it;
    }
  }
  forget_context_tile_counters(ctx_id);
}

std::size_t module_cache_size() {
  ModuleGlobals& g = module_globals();
  std::lock_guard<std::mutex> lock(g.mutex);
  return g.modules.size();
}

}  // namespace ptxfmha
