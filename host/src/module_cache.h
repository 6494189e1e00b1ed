// Module cache: one loaded, checked CUfunction per (context, cubin directory, kernel name).
//
//   get_kernel() loads the cubin once per context, resolves the entry symbol, opts in to
//   more than 48 KiB of dynamic shared memory when the row needs it, and checks the kernel's
//   .param size and thread limit against the table row.
//
// Invariants: thread-safe (one mutex, held through a load: loads are rare); entries live
// until forget_context_modules() or process exit (modules are never unloaded behind a
// caller's back, so a LoadedKernel stays valid for its context's lifetime); entries are keyed
// by the unique context id (cuCtxGetId), never by the CUcontext handle, so a destroyed
// context's entries are never reused by a new context that gets the same handle.
#pragma once
#include <cuda.h>

#include <cstddef>

#include "context.h"
#include "kernel_table.h"
#include "ptxfmha/ptxfmha.h"

namespace ptxfmha {

struct LoadedKernel {
  CUmodule module = nullptr;
  CUfunction function = nullptr;
};
// Loads (once per context, cubin directory and name) <cubin_dir>/<info.arch>/<row.name>.cubin
// and resolves row.name. The context must be current on this thread (acquire_device does
// that). Errors: CUBIN_MISSING, CUBIN_WRONG_ARCH (row arch or file target differs from the
// device), CUBIN_INVALID (not an ELF, driver rejects it, symbol missing, .param size or
// thread limit differ from the row), CUDA (attribute calls).
ptxfmha_status get_kernel(const DeviceInfo& info, const KernelInfo& row, LoadedKernel* out);
// Drops the cache entries of a context (its modules and tile counters die with the context;
// for tests that destroy contexts). Entries are keyed by the unique context id, so a destroyed context's
// entries are never reused even if a new context gets the same CUcontext handle.
// Also drops the context's tile counters (tile_counter.h forget_context_tile_counters).
void forget_context_modules(unsigned long long ctx_id);
// Number of cached (context, dir, kernel) entries; for tests.
std::size_t module_cache_size();

}  // namespace ptxfmha
