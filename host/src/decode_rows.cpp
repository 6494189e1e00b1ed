// Decode row facts and lookups. See decode_rows.h.
#include "decode_rows.h"

#include <cstring>
#include <vector>

#include "context.h"
#include "decode.h"
#include "kernel_lookup.h"
#include "../../ptx/manifest/sm90_decode.h"

namespace ptxfmha {

namespace {

const char* arch_of(int sm) { return sm >= 10 ? arch_for_cc(sm / 10, sm % 10) : nullptr; }

// The facts of the row named `name` (a scan of both facts tables), or nullptr.
const DecodeRowFacts* facts_by_name(const char* name) {
  for (DecodeFactsTable t : {decode_facts_sm90a(), decode_facts_sm100a()})
    for (std::size_t i = 0; i < t.count; ++i)
      if (std::strcmp(t.rows[i].name, name) == 0) return &t.rows[i];
  return nullptr;
}

struct RowWithFacts {
  const KernelInfo* row;
  const DecodeRowFacts* facts;
};

// Every decode row of the kernel table with its facts, in table order, matched once (the tables
// are static): a decode call looks rows up several times (split, wide twin, combine, cluster twin).
const std::vector<RowWithFacts>& rows_with_facts() {
  static const std::vector<RowWithFacts> rows = [] {
    std::vector<RowWithFacts> v;
    for (const KernelInfo* r : all_kernels())
      if (const DecodeRowFacts* f = facts_by_name(r->name)) v.push_back({r, f});
    return v;
  }();
  return rows;
}

// The first decode row of the arch folder `arch` (nullptr: none) that `pick` accepts.
template <class F>
const KernelInfo* first_row(const char* arch, F&& pick) {
  if (arch == nullptr) return nullptr;
  for (const RowWithFacts& rf : rows_with_facts())
    if (std::strcmp(rf.row->arch, arch) == 0 && pick(*rf.row, *rf.facts)) return rf.row;
  return nullptr;
}

}  // namespace

const DecodeRowFacts* decode_row_facts(const KernelInfo* row) {
  if (row == nullptr) return nullptr;
  for (const RowWithFacts& rf : rows_with_facts())
    if (rf.row == row) return rf.facts;
  return facts_by_name(row->name);  // a row that is not the table's own (a copy)
}

int decode_row_heads(const KernelInfo* row) {
  const DecodeRowFacts* f = decode_row_facts(row);
  return f != nullptr && !f->combine && f->heads > 1 ? f->heads : 1;
}

// Whether a row of `heads` KV heads per CTA fits a call of heads_kv KV heads and packed_rows rows
// per head: one head always; more only where they divide heads_kv and one m-tile (<= 16 rows)
// holds each head's rows.
static bool heads_fit(int heads, int heads_kv, int64_t packed_rows) {
  if (heads <= 1) return true;
  return heads_kv > 0 && heads_kv % heads == 0 && packed_rows >= 1 && packed_rows <= 16;
}

const KernelInfo* find_decode_split(int sm, int head_dim, int kv_bytes, bool features, int heads_kv,
                                    int64_t packed_rows) {
  const int64_t cta_rows = packed_rows < kDecodeRowsPerCta ? packed_rows : kDecodeRowsPerCta;
  auto fits = [&](const KernelInfo& r, const DecodeRowFacts& f, bool wg) {
    if (f.combine || f.cluster != 0 || f.handout != 0 || r.head_dim != head_dim || f.kv_bytes != kv_bytes ||
        (f.features != 0) != features || (f.wg != 0) != wg)
      return false;
    return heads_fit(f.heads, heads_kv, packed_rows);
  };
  if (cta_rows >= decode_wg_min_rows(head_dim, kv_bytes))
    if (const KernelInfo* r = first_row(arch_of(sm), [&](const KernelInfo& r, const DecodeRowFacts& f) {
          return fits(r, f, true);
        }))
      return r;
  return first_row(arch_of(sm),
                   [&](const KernelInfo& r, const DecodeRowFacts& f) { return fits(r, f, false); });
}

const KernelInfo* find_decode_cluster(int sm, int head_dim, int kv_bytes, bool features, bool wg) {
  return first_row(arch_of(sm), [&](const KernelInfo& r, const DecodeRowFacts& f) {
    return !f.combine && f.cluster != 0 && f.handout == 0 && f.heads == 1 && f.l2_hint == 0 && r.head_dim == head_dim &&
           f.kv_bytes == kv_bytes && (f.features != 0) == features && (f.wg != 0) == wg;
  });
}

const KernelInfo* find_decode_wide(int sm, const KernelInfo* split_row) {
  const DecodeRowFacts* s = decode_row_facts(split_row);
  if (s == nullptr || s->combine) return nullptr;
  return first_row(arch_of(sm), [&](const KernelInfo& r, const DecodeRowFacts& f) {
    return !f.combine && f.cluster == 0 && f.handout == 0 && f.heads == 1 && f.l2_hint == 0 &&
           r.head_dim == split_row->head_dim && f.kv_bytes == s->kv_bytes &&
           f.features == s->features && f.wg == s->wg && f.stages < s->stages;
  });
}

const KernelInfo* find_decode_two_heads(int sm, const KernelInfo* split_row, int heads_kv, int64_t packed_rows) {
  const DecodeRowFacts* s = decode_row_facts(split_row);
  if (s == nullptr || s->combine || s->heads != 1 || !heads_fit(2, heads_kv, packed_rows)) return nullptr;
  return first_row(arch_of(sm), [&](const KernelInfo& r, const DecodeRowFacts& f) {
    return !f.combine && f.cluster == 0 && f.handout == 0 && f.heads == 2 && f.l2_hint == 0 &&
           r.head_dim == split_row->head_dim && f.kv_bytes == s->kv_bytes && f.features == s->features &&
           f.wg == s->wg;
  });
}

bool decode_row_wg(const KernelInfo* row) {
  const DecodeRowFacts* f = decode_row_facts(row);
  return f != nullptr && !f->combine && f->wg != 0;
}

bool decode_row_handout(const KernelInfo* row) {
  const DecodeRowFacts* f = decode_row_facts(row);
  return f != nullptr && !f->combine && f->handout != 0;
}

bool decode_row_cpasync(const KernelInfo* row) {
  const DecodeRowFacts* f = decode_row_facts(row);
  return f != nullptr && !f->combine && SM90_DECODE_CPASYNC(f->kv_bytes, f->features, f->l2_hint, f->heads, f->wg, f->handout);
}

bool decode_row_qk_e4m3(const KernelInfo* row) {
  const DecodeRowFacts* f = decode_row_facts(row);
  return f != nullptr && !f->combine && f->kv_bytes == 1 && f->wg >= 2;  // WG 2, 3 (converter warps), 4 (two warpgroups)
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
