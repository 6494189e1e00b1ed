// Host runtime shared by every entry point (fwd.cpp, decode*.cpp) and by tests/bench/tools.
//
// This header only gathers the runtime's headers, one per concern; new code includes the
// precise header it needs (the concern's header is named after the arrow):
//   errors     -> status.h        thread-local last error: fail(status, printf-format, ...)
//              records the message and returns the status, so
//              `return fail(PTXFMHA_ERR_X, "q is null");`.
//   context    -> context.h       acquire_context(): the calling thread's current CUDA
//              context if it has one, else device 0's primary context (retained once per
//              process, made current). DeviceInfo (SM count, L2 size, ...).
//   arch       -> context.h       compute capability -> kernel folder: 9.0 -> "sm90a",
//              10.x -> "sm100a".
//   cubins     -> cubin.h         <cubin dir>/<arch>/<kernel name>.cubin; the directory is,
//              in this order, ptxfmha_set_cubin_dir(), $PTXFMHA_CUBIN_DIR,
//              PTXFMHA_DEFAULT_CUBIN_DIR.
//   ELF check  -> cubin.h         read_cubin_target(): the target SM recorded in a cubin's
//              ELF header (e_flags), checked against the device before the driver ever
//              sees the file.
//   modules    -> module_cache.h  get_kernel(): thread-safe cache keyed by (context, cubin
//              dir, kernel name); loads the cubin once per context, resolves the entry
//              symbol, opts in to more than 48 KiB of dynamic shared memory when the row
//              needs it, and checks the kernel's .param size and thread limit against the
//              table row.
//   counters   -> tile_counter.h  tile_counter(): per-(context, stream) work-tile counter of
//              the persistent kernels' dynamic schedulers.
//   pointers   -> device_range.h  check_device_range(): a tensor's bytes lie in memory CUDA
//              knows.
//   tensor map -> tensor_map.h    encode_tensor_map() over a TensorView (tensor_view.h).
//   launch     -> launch.h        launch_kernel(): cuLaunchKernelEx with one by-value
//              parameter block, optional cluster dims; returns PTXFMHA_ERR_CUDA naming the
//              kernel on failure.
//   table      -> kernel_lookup.h all_kernels()/find_kernel()/supported_head_dims(): the
//              aggregate of every kernels_*.cpp table (kernel_table.cpp).
// The driver loader itself is driver.h; the forward's launch plan is fwd_plan.h.
//
// Every function that returns ptxfmha_status has already called fail() when it returns an
// error, so callers just propagate the status.
#pragma once
#include "context.h"
#include "cubin.h"
#include "device_range.h"
#include "kernel_lookup.h"
#include "launch.h"
#include "module_cache.h"
#include "status.h"
#include "tensor_map.h"
#include "tensor_view.h"
#include "tile_counter.h"
