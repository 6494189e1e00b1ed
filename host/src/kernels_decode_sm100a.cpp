// Kernel table rows for decode kernels on sm100a. Each row mirrors the KERNEL_* macros of its
// ptx/sm100a/<name>.ptx; tests/ check the two agree.
#include "kernel_table.h"

namespace ptxfmha {

KernelTable decode_kernels_sm100a() { return {nullptr, 0}; }

}  // namespace ptxfmha
