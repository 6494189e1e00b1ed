// Decode row facts and lookups. See decode_rows.h.
#include "decode_rows.h"

#include <cstring>

#include "context.h"
#include "kernel_lookup.h"

namespace ptxfmha {

namespace {

const char* arch_of(int sm) { return sm >= 10 ? arch_for_cc(sm / 10, sm % 10) : nullptr; }

// Every decode row with its facts, for the arch folder `arch` (nullptr: none).
template <class F>
const KernelInfo* first_row(const char* arch, F&& pick) {
  if (arch == nullptr) return nullptr;
  for (const KernelInfo* r : all_kernels()) {
    if (std::strcmp(r->arch, arch) != 0) continue;
    const DecodeRowFacts* f = decode_row_facts(r);
    if (f != nullptr && pick(*r, *f)) return r;
  }
  return nullptr;
}

}  // namespace

const DecodeRowFacts* decode_row_facts(const KernelInfo* row) {
  if (row == nullptr) return nullptr;
  for (DecodeFactsTable t : {decode_facts_sm90a(), decode_facts_sm100a()})
    for (std::size_t i = 0; i < t.count; ++i)
      if (std::strcmp(t.rows[i].name, row->name) == 0) return &t.rows[i];
  return nullptr;
}

int decode_row_heads(const KernelInfo* row) {
  const DecodeRowFacts* f = decode_row_facts(row);
  return f != nullptr && !f->combine && f->heads > 1 ? f->heads : 1;
}

const KernelInfo* find_decode_split(int sm, int head_dim, int kv_bytes, bool features, int heads_kv,
                                    int64_t packed_rows) {
  return first_row(arch_of(sm), [&](const KernelInfo& r, const DecodeRowFacts& f) {
    if (f.combine || f.cluster != 0 || r.head_dim != head_dim || f.kv_bytes != kv_bytes ||
        (f.features != 0) != features)
      return false;
    if (f.heads <= 1) return true;
    return heads_kv > 0 && heads_kv % f.heads == 0 && packed_rows >= 1 && packed_rows <= 16;
  });
}

const KernelInfo* find_decode_cluster(int sm, int head_dim, int kv_bytes, bool features) {
  return first_row(arch_of(sm), [&](const KernelInfo& r, const DecodeRowFacts& f) {
    return !f.combine && f.cluster != 0 && f.heads == 1 && f.l2_hint == 0 && r.head_dim == head_dim &&
           f.kv_bytes == kv_bytes && (f.features != 0) == features;
  });
}

const KernelInfo* find_decode_wide(int sm, const KernelInfo* split_row) {
  const DecodeRowFacts* s = decode_row_facts(split_row);
  if (s == nullptr || s->combine) return nullptr;
  return first_row(arch_of(sm), [&](const KernelInfo& r, const DecodeRowFacts& f) {
    return !f.combine && f.cluster == 0 && f.heads == 1 && f.l2_hint == 0 &&
           r.head_dim == split_row->head_dim && f.kv_bytes == s->kv_bytes &&
           f.features == s->features && f.stages < s->stages;
  });
}

bool decode_row_cluster(const KernelInfo* row) {
  const DecodeRowFacts* f = decode_row_facts(row);
  return f != nullptr && !f->combine && f->cluster != 0;
}

const KernelInfo* find_decode_combine(int sm, int head_dim, bool sink) {
  return first_row(arch_of(sm), [&](const KernelInfo& r, const DecodeRowFacts& f) {
    return f.combine && r.head_dim == head_dim && (f.sink != 0) == sink;
  });
}

const KernelInfo* find_decode_split_named(int sm, const char* name) {
  if (name == nullptr) return nullptr;
  return first_row(arch_of(sm), [&](const KernelInfo& r, const DecodeRowFacts& f) {
    return !f.combine && std::strcmp(r.name, name) == 0;
  });
}

}  // namespace ptxfmha
