// The decode kernels' facts and the host's choice of row (decode.cpp, bench, tests).
//
// Every decode row of the kernel table (kernels_decode_<arch>.cpp) has a DecodeRowFacts in the
// same order, from the same manifest row (ptx/manifest/sm90_decode.h): the split kernels' cache
// element size, feature switch, L2 hint and stages, the combine kernels' sink switch. A call
// picks:
//   split kernel    the first row of the device's arch folder with its head dim, its cache
//                   type (kv_bytes 2 = bf16, 1 = e4m3) and features == (the call has window,
//                   softcap, ALiBi or sinks); the rows after the first of each such key (the
//                   A/B levers _ef, _s6) run only when named;
//   combine kernel  the plain one, or the _sink one when the call has sinks.
// Invariants: pure lookups over static tables, thread-safe, no driver call.
#pragma once
#include <cstddef>

#include "kernel_table.h"

namespace ptxfmha {

struct DecodeRowFacts {
  const char* name;
  bool combine;      // a combine kernel (sink) or a split kernel (the rest)
  int head_dim;
  int stages;        // split: K/V ring stages
  int kv_bytes;      // split: 2 = bf16 cache, 1 = e4m3 cache
  int features;      // split: 1 = window / softcap / ALiBi / sinks as run-time switches
  int l2_hint;       // split: 1 = K/V loads with an L2 evict_first policy
  int sink;          // combine: 1 = the sinks join here
  int heads = 1;     // split: KV heads per CTA (2: _h2, at most 16 packed rows per head)
};
struct DecodeFactsTable {
  const DecodeRowFacts* rows;
  std::size_t count;
};
DecodeFactsTable decode_facts_sm90a();   // kernels_decode_sm90a.cpp
DecodeFactsTable decode_facts_sm100a();  // kernels_decode_sm100a.cpp

// The facts of a decode row (by name), or nullptr for another family's row.
const DecodeRowFacts* decode_row_facts(const KernelInfo* row);
// The split kernel a call runs on a device of compute capability sm (see above), or nullptr.
const KernelInfo* find_decode_split(int sm, int head_dim, int kv_bytes, bool features);
// The combine kernel of head dim `head_dim`, with or without sinks, or nullptr.
const KernelInfo* find_decode_combine(int sm, int head_dim, bool sink);
// KV heads per CTA of a split row (1 for rows without facts, e.g. tests' fake rows).
int decode_row_heads(const KernelInfo* row);
// A decode split row by name on the device's arch folder (the A/B hook), or nullptr.
const KernelInfo* find_decode_split_named(int sm, const char* name);

}  // namespace ptxfmha
