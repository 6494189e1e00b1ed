// Kernel-table lookups: the aggregate of every kernels_*.cpp table (kernel_table.h) and the
// queries over it. Defined in kernel_table.cpp.
//
// Invariants: the rows are static constant data, so every lookup is pure and thread-safe;
// no driver call is made (a device's sm picks the arch folder via arch_for_cc, context.h).
#pragma once
#include <string>
#include <vector>

#include "kernel_table.h"

namespace ptxfmha {

// Every row of every kernels_*.cpp, in a fixed order (fwd sm90a, decode sm90a, fwd sm100a,
// decode sm100a, bwd sm90a); built once, the same vector on every call.
const std::vector<const KernelInfo*>& all_kernels();
// The row for (sm, kind, head_dim), or nullptr. sm is the device's cc (90, 100, 103): a
// row matches when its arch folder is the device's arch_for_cc.
const KernelInfo* find_kernel(int sm, KernelKind kind, int head_dim);
// Ascending head dims with a row for (sm, kind).
std::vector<int> supported_head_dims(int sm, KernelKind kind);
// "64, 128" (for messages); "none" when empty.
std::string head_dims_string(const std::vector<int>& dims);

}  // namespace ptxfmha
