// CUDA Driver API loader: dlopen + cuGetProcAddress. See driver.h.
#include "driver.h"

#include <cudaTypedefs.h>
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <atomic>
#include <mutex>
#include <type_traits>

namespace ptxfmha {

// Each function is requested at the version whose typedef has cuda.h's type (driver.h).
#define PTXFMHA_CHECK_ABI(name, version)                                                 \
  static_assert(std::is_same<PFN_##name##_v##version, decltype(&::name)>::value,          \
                #name ": PFN_" #name "_v" #version " is not the type cuda.h declares");
PTXFMHA_DRIVER_FUNCS(PTXFMHA_CHECK_ABI)
PTXFMHA_DRIVER_OPTIONAL_FUNCS(PTXFMHA_CHECK_ABI)
#undef PTXFMHA_CHECK_ABI

namespace {

using GetProcAddressFn = CUresult(CUDAAPI*)(const char*, void**, int, cuuint64_t,
                                            CUdriverProcAddressQueryResult*);

struct DriverState {
  std::once_flag once;
  DriverApi api;
  ptxfmha_status status = PTXFMHA_ERR_NO_DRIVER;
  std::string message;
  std::atomic<bool> ready{false};  // api is filled (load_driver succeeded)
};

DriverState& state() {
  static DriverState s;  // never destroyed before use: function-local static
  return s;
}

// Resolves one symbol through cuGetProcAddress; returns the pointer or nullptr.
void* resolve(GetProcAddressFn gpa, const char* name, int version, std::string* why) {
  void* fn = nullptr;
  CUdriverProcAddressQueryResult q = CU_GET_PROC_ADDRESS_SUCCESS;
  CUresult r = gpa(name, &fn, version, CU_GET_PROC_ADDRESS_DEFAULT, &q);
  if (r != CUDA_SUCCESS || q != CU_GET_PROC_ADDRESS_SUCCESS || fn == nullptr) {
    if (why) {
      char buf[200];
      std::snprintf(buf, sizeof buf, "%s (CUDA %d ABI) not found in the CUDA driver (CUresult %d, %s)",
                    name, version, static_cast<int>(r),
                    q == CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
                        ? "driver older than this symbol's CUDA version"
                        : "symbol not found");
      *why = buf;
    }
    return nullptr;
  }
  return fn;
}

// "what failed: NAME (n): text"; names only when `a` has the functions.
std::string format_cu_error(const DriverApi* a, CUresult r, const char* what) {
  const char* name = nullptr;
  const char* text = nullptr;
  if (a != nullptr && a->cuGetErrorName != nullptr) {
    if (a->cuGetErrorName(r, &name) != CUDA_SUCCESS) name = nullptr;
    if (a->cuGetErrorString(r, &text) != CUDA_SUCCESS) text = nullptr;
  }
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s%s%s (%d)%s%s", what ? what : "", what ? " failed: " : "",
                name ? name : "CUresult", static_cast<int>(r), text ? ": " : "", text ? text : "");
  return buf;
}

}  // namespace

ptxfmha_status load_driver(const char* path, DriverApi* api, std::string* message) {
  std::string msg;
  if (path == nullptr || api == nullptr) {
    if (message) *message = "load_driver: null path or api";
    return PTXFMHA_ERR_NO_DRIVER;
  }
  void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* e = dlerror();
    if (message)
      *message = std::string("cannot load the CUDA driver library ") + path + ": " +
                 (e ? e : "dlopen failed") + " (is the NVIDIA driver installed?)";
    return PTXFMHA_ERR_NO_DRIVER;
  }
  auto gpa = reinterpret_cast<GetProcAddressFn>(dlsym(lib, "cuGetProcAddress_v2"));
  if (gpa == nullptr) {
    if (message)
      *message = std::string(path) +
                 " has no cuGetProcAddress_v2: the NVIDIA driver is older than CUDA 12.0";
    dlclose(lib);
    return PTXFMHA_ERR_NO_DRIVER;
  }
  DriverApi a;
  std::string why;
  bool ok = true;
#define PTXFMHA_RESOLVE_REQUIRED(name, version)                                        \
  if (ok) {                                                                            \
    a.name = reinterpret_cast<decltype(a.name)>(resolve(gpa, #name, version, &why));   \
    if (a.name == nullptr) ok = false;                                                 \
  }
#define PTXFMHA_RESOLVE_OPTIONAL(name, version) \
  a.name = reinterpret_cast<decltype(a.name)>(resolve(gpa, #name, version, nullptr));
  PTXFMHA_DRIVER_FUNCS(PTXFMHA_RESOLVE_REQUIRED)
  PTXFMHA_DRIVER_OPTIONAL_FUNCS(PTXFMHA_RESOLVE_OPTIONAL)
#undef PTXFMHA_RESOLVE_REQUIRED
#undef PTXFMHA_RESOLVE_OPTIONAL
  if (!ok) {
    if (message) *message = std::string(path) + ": " + why;
    dlclose(lib);
    return PTXFMHA_ERR_NO_DRIVER;
  }
  int v = 0;
  if (a.cuDriverGetVersion(&v) == CUDA_SUCCESS) a.driver_version = v;
  *api = a;
  if (message) message->clear();
  return PTXFMHA_OK;
}

ptxfmha_status driver_init(std::string* message) {
  DriverState& s = state();
  std::call_once(s.once, [&s] {
    const char* path = std::getenv("PTXFMHA_LIBCUDA");
    if (path == nullptr || *path == '\0') path = "libcuda.so.1";
    std::string msg;
    ptxfmha_status st = load_driver(path, &s.api, &msg);
    if (st == PTXFMHA_OK) {
      s.ready.store(true, std::memory_order_release);
      CUresult r = s.api.cuInit(0);
      if (r == CUDA_ERROR_NO_DEVICE) {
        st = PTXFMHA_ERR_NO_DEVICE;
        msg = "no CUDA device: " + format_cu_error(&s.api, r, "cuInit");
      } else if (r != CUDA_SUCCESS) {
        st = PTXFMHA_ERR_NO_DRIVER;
        msg = format_cu_error(&s.api, r, "cuInit");
        if (s.api.driver_version > 0) {
          char buf[96];
          std::snprintf(buf, sizeof buf, " (driver supports CUDA %d.%d, library built with %d.%d)",
                        s.api.driver_version / 1000, (s.api.driver_version % 1000) / 10,
                        CUDA_VERSION / 1000, (CUDA_VERSION % 1000) / 10);
          msg += buf;
        }
      }
    }
    s.status = st;
    s.message = msg;
  });
  if (message) *message = s.message;
  return s.status;
}

const DriverApi& drv() { return state().api; }

std::string cu_error_message(CUresult r, const char* what) {
  DriverState& s = state();
  return format_cu_error(s.ready.load(std::memory_order_acquire) ? &s.api : nullptr, r, what);
}

}  // namespace ptxfmha
