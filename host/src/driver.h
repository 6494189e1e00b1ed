// CUDA Driver API, loaded at run time.
//
// The library never links libcuda: binaries (tests, bench, tools) must start on machines
// without a driver and report PTXFMHA_ERR_NO_DRIVER there. driver.cpp opens
// "libcuda.so.1" with dlopen, takes cuGetProcAddress_v2 from it with dlsym, and resolves
// every other function through cuGetProcAddress(base name, version,
// CU_GET_PROC_ADDRESS_DEFAULT), so each pointer has exactly the ABI of the declaration in
// the cuda.h we compile against: each is requested at the CUDA version whose ABI cuda.h
// declares (see PTXFMHA_DRIVER_FUNCS), and the driver returns that variant (_v2, _v3 ...).
//
// Usage:
//   std::string msg;
//   ptxfmha_status st = ptxfmha::driver_init(&msg);   // once per process, thread-safe
//   if (st != PTXFMHA_OK) { ... msg says why ... }
//   const ptxfmha::DriverApi& d = ptxfmha::drv();
//   CUresult r = d.cuMemAlloc(&ptr, bytes);            // members are named like cuda.h
//   if (r != CUDA_SUCCESS) puts(ptxfmha::cu_error_message(r, "cuMemAlloc").c_str());
//
// Member names go through cuda.h's version macros exactly like direct calls would:
// `d.cuMemAlloc(...)` is the member `cuMemAlloc_v2`, of type decltype(&::cuMemAlloc_v2).
// Write them as you would write the plain Driver API call.
#pragma once
#include <cuda.h>

#include <string>

#include "ptxfmha/ptxfmha.h"

namespace ptxfmha {

// X-macro of every Driver API function the project uses (library, tests, bench, tools), as
// X(name, version): `version` is the CUDA version whose cudaTypedefs.h typedef
// PFN_<name>_v<version> has exactly the type of cuda.h's declaration of <name>; driver.cpp
// passes it to cuGetProcAddress and static_asserts the typedef against decltype(&::name).
// Do not use CUDA_VERSION for all of them: CUDA 13 gave some base names a new ABI
// (PFN_cuCtxGetDevice_v13000 takes a CUcontext, cuda.h's cuCtxGetDevice does not), and
// asking for version 13000 returns that one. To add a function: look up its PFN_*_v* typedefs
// in cudaTypedefs.h, pick the one matching cuda.h; the static_assert checks the choice.
// All are required except those in PTXFMHA_DRIVER_OPTIONAL_FUNCS (null on older drivers).
#define PTXFMHA_DRIVER_FUNCS(X) \
  X(cuInit, 2000)                                        \
  X(cuDriverGetVersion, 2020)                            \
  X(cuGetErrorName, 6000)                                \
  X(cuGetErrorString, 6000)                              \
  X(cuDeviceGet, 2000)                                   \
  X(cuDeviceGetCount, 2000)                              \
  X(cuDeviceGetName, 2000)                               \
  X(cuDeviceGetAttribute, 2000)                          \
  X(cuDeviceTotalMem, 3020)                              \
  X(cuDeviceGetPCIBusId, 4010)                           \
  X(cuDevicePrimaryCtxRetain, 7000)                      \
  X(cuDevicePrimaryCtxRelease, 11000)                    \
  X(cuDevicePrimaryCtxGetState, 7000)                    \
  X(cuCtxGetCurrent, 4000)                               \
  X(cuCtxSetCurrent, 4000)                               \
  X(cuCtxPushCurrent, 4000)                              \
  X(cuCtxPopCurrent, 4000)                               \
  X(cuCtxGetDevice, 2000)                                \
  X(cuCtxSynchronize, 2000)                              \
  X(cuCtxGetApiVersion, 3020)                            \
  X(cuMemAlloc, 3020)                                    \
  X(cuMemFree, 3020)                                     \
  X(cuMemAllocHost, 3020)                                \
  X(cuMemFreeHost, 2000)                                 \
  X(cuMemGetInfo, 3020)                                  \
  X(cuMemGetAddressRange, 3020)                          \
  X(cuPointerGetAttribute, 4000)                         \
  X(cuPointerGetAttributes, 7000)                        \
  X(cuMemcpyHtoD, 3020)                                  \
  X(cuMemcpyDtoH, 3020)                                  \
  X(cuMemcpyDtoD, 3020)                                  \
  X(cuMemcpyHtoDAsync, 3020)                             \
  X(cuMemcpyDtoHAsync, 3020)                             \
  X(cuMemcpyDtoDAsync, 3020)                             \
  X(cuMemsetD8, 3020)                                    \
  X(cuMemsetD16, 3020)                                   \
  X(cuMemsetD32, 3020)                                   \
  X(cuMemsetD8Async, 3020)                               \
  X(cuMemsetD16Async, 3020)                              \
  X(cuMemsetD32Async, 3020)                              \
  X(cuStreamCreate, 2000)                                \
  X(cuStreamCreateWithPriority, 5050)                    \
  X(cuStreamDestroy, 4000)                               \
  X(cuStreamSynchronize, 2000)                           \
  X(cuStreamQuery, 2000)                                 \
  X(cuStreamIsCapturing, 10000)                          \
  X(cuStreamBeginCapture, 10010)                         \
  X(cuStreamEndCapture, 10000)                           \
  X(cuGraphInstantiateWithFlags, 11040)                  \
  X(cuGraphLaunch, 10000)                                \
  X(cuGraphExecDestroy, 10000)                           \
  X(cuGraphDestroy, 10000)                               \
  X(cuStreamWaitEvent, 3020)                             \
  X(cuEventCreate, 2000)                                 \
  X(cuEventDestroy, 4000)                                \
  X(cuEventRecord, 2000)                                 \
  X(cuEventSynchronize, 2000)                            \
  X(cuEventQuery, 2000)                                  \
  X(cuEventElapsedTime, 12080)                           \
  X(cuModuleLoad, 2000)                                  \
  X(cuModuleLoadData, 2000)                              \
  X(cuModuleUnload, 2000)                                \
  X(cuModuleGetFunction, 2000)                           \
  X(cuFuncSetAttribute, 9000)                            \
  X(cuFuncGetAttribute, 2020)                            \
  X(cuLaunchKernel, 4000)                                \
  X(cuLaunchKernelEx, 11060)                             \
  X(cuOccupancyMaxActiveBlocksPerMultiprocessor, 6050)   \
  X(cuTensorMapEncodeTiled, 12000)

// Functions newer than the oldest driver we can run on; null when the driver lacks them.
//   cuCtxGetId (12.0): unique id per context, keys the module cache
//   cuFuncGetParamInfo (12.4): checks a kernel's .param size at load
#define PTXFMHA_DRIVER_OPTIONAL_FUNCS(X) \
  X(cuCtxGetId, 12000)                     \
  X(cuFuncGetParamInfo, 12040)             \
  X(cuOccupancyMaxActiveClusters, 11070)

struct DriverApi {
#define PTXFMHA_DRIVER_MEMBER(name, version) decltype(&::name) name = nullptr;
  PTXFMHA_DRIVER_FUNCS(PTXFMHA_DRIVER_MEMBER)
  PTXFMHA_DRIVER_OPTIONAL_FUNCS(PTXFMHA_DRIVER_MEMBER)
#undef PTXFMHA_DRIVER_MEMBER
  int driver_version = 0;  // cuDriverGetVersion, e.g. 13000
};

// Loads the driver library at `path` (dlopen) and resolves every function into *api.
// Does not call cuInit and caches nothing: a building block of driver_init, public so
// tests can check the failure path without a driver (e.g. a path that does not exist).
// Returns PTXFMHA_OK, or PTXFMHA_ERR_NO_DRIVER with *message naming the library or the
// missing symbol. The library handle stays open on success (and is closed on failure).
ptxfmha_status load_driver(const char* path, DriverApi* api, std::string* message);

// Process-wide, once, thread-safe: load_driver("libcuda.so.1") then cuInit(0).
// The environment variable PTXFMHA_LIBCUDA, when set, replaces the library path
// (used by tests to simulate a machine without a driver).
// Returns PTXFMHA_OK; PTXFMHA_ERR_NO_DRIVER (library/symbol missing, or cuInit failed with
// anything but CUDA_ERROR_NO_DEVICE); PTXFMHA_ERR_NO_DEVICE (cuInit: no device).
// The result is remembered: later calls return the same status and message.
ptxfmha_status driver_init(std::string* message = nullptr);

// The resolved functions. Only valid after driver_init returned PTXFMHA_OK.
const DriverApi& drv();

// "CUDA_ERROR_ILLEGAL_ADDRESS (700): an illegal memory access was encountered", with
// "<what> failed: " in front when `what` is given. Works before driver_init (then the
// names are not available and only the number is printed).
std::string cu_error_message(CUresult r, const char* what = nullptr);

}  // namespace ptxfmha
