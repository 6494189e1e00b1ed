// Kernel table rows for decode kernels on sm90a. Each row mirrors the KERNEL_* macros of its
// ptx/sm90a/<name>.ptx; tests/ check the two agree.
#include "kernel_table.h"

namespace ptxfmha {

KernelTable decode_kernels_sm90a() { return {nullptr, 0}; }

}  // namespace ptxfmha
