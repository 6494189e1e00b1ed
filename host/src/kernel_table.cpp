// The aggregate kernel table: every row of every kernels_*.cpp, and lookups over it.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "kernel_table.h"
#include "runtime.h"

namespace ptxfmha {

const std::vector<const KernelInfo*>& all_kernels() {
  // Built once: the tables are static, and find_kernel runs on every call's launch path.
  static const std::vector<const KernelInfo*> rows = [] {
    std::vector<const KernelInfo*> v;
    for (KernelTable t : {fwd_kernels_sm90a(), decode_kernels_sm90a(), fwd_kernels_sm100a(),
                          decode_kernels_sm100a(), bwd_kernels_sm90a()}) {
      for (std::size_t i = 0; i < t.count; ++i) v.push_back(&t.rows[i]);
    }
    return v;
  }();
  return rows;
}

namespace {
const char* arch_for_sm(int sm) { return sm >= 10 ? arch_for_cc(sm / 10, sm % 10) : nullptr; }
}  // namespace

const KernelInfo* find_kernel(int sm, KernelKind kind, int head_dim) {
  const char* arch = arch_for_sm(sm);
  if (arch == nullptr) return nullptr;
  for (const KernelInfo* r : all_kernels()) {
    if (r->kind == kind && r->head_dim == head_dim && std::strcmp(r->arch, arch) == 0) return r;
  }
  return nullptr;
}

std::vector<int> supported_head_dims(int sm, KernelKind kind) {
  std::vector<int> dims;
  const char* arch = arch_for_sm(sm);
  if (arch == nullptr) return dims;
  for (const KernelInfo* r : all_kernels()) {
    if (r->kind == kind && std::strcmp(r->arch, arch) == 0) dims.push_back(r->head_dim);
  }
  std::sort(dims.begin(), dims.end());
  dims.erase(std::unique(dims.begin(), dims.end()), dims.end());
  return dims;
}

std::string head_dims_string(const std::vector<int>& dims) {
  if (dims.empty()) return "none";
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(dims[i]);
  }
  return s;
}

}  // namespace ptxfmha
