// Kernel table rows of the attention backward on Hopper (sm_90a); filled in with the kernels.
#include "kernel_table.h"

namespace ptxfmha {

KernelTable bwd_kernels_sm90a() { return {nullptr, 0}; }

}  // namespace ptxfmha
