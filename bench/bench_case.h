// The benchmark's cases: one attention problem each (shape, mask, cache layout), the grids
// they come from, and the arithmetic the report needs (FLOPs, bytes). Pure code: the CPU
// tests (tests/test_cpu_bench_grid.cpp) link it through libptxfmha_benchutil.a.
//
// A case names its family ("fwd", "decode"); bench_family.h says how a family runs a case on
// both sides. Adding a case kind: see "Adding a case" in bench/METHOD.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ptxfmha_bench {

struct Case {
  std::string family;  // "fwd" (prefill) or "decode": the Family that runs it
  int64_t batch = 0, seqlen_q = 0, seqlen_k = 0, heads_q = 0, heads_kv = 0, head_dim = 0;
  bool causal = false;   // bottom-right aligned
  int64_t page_size = 0; // decode: tokens per page of a paged K/V cache; 0 = contiguous cache
  int kv_elem_bytes = 2; // decode: bytes per K/V cache element (2 bf16; 1 e4m3: family decode_e4m3)
  std::string variant;   // decode: an A/B variant (parse_decode_variant); "" = the library's choice
  std::string name;      // Google Benchmark name prefix, e.g. "fwd/d128/causal/s4096/b4h16"
  std::string shape;     // the table's first column

  bool decode() const { return family == "decode" || family == "decode_e4m3"; }
  bool paged() const { return page_size > 0; }
  // Paged caches: pages per sequence (columns of the page table) and pages in the pool.
  int64_t blocks_per_seq() const { return paged() ? (seqlen_k + page_size - 1) / page_size : 0; }
  int64_t num_pages() const { return batch * blocks_per_seq(); }

  int64_t q_elems() const { return batch * seqlen_q * heads_q * head_dim; }
  // Elements of K (or V) as stored: a dense [batch, seqlen_k, ...] tensor or the page pool.
  int64_t kv_elems() const {
    return (paged() ? num_pages() * page_size : batch * seqlen_k) * heads_kv * head_dim;
  }
  int64_t lse_elems() const { return batch * heads_q * seqlen_q; }
  // 4*B*H*Sq*Sk*D, halved for causal (the convention of FlashAttention's papers).
  double flops() const;
  // Bytes of K and V one call must read (the logical tokens: batch * seqlen_k; bf16 or e4m3).
  double kv_bytes() const { return 2.0 * kv_elem_bytes * double(batch) * seqlen_k * heads_kv * head_dim; }
  // Bytes of Q, K, V and O (the decode GBps counter of the earlier runs).
  double bytes() const { return kv_bytes() + 4.0 * double(q_elems()); }
  // Bytes one launch touches in device memory (inputs + outputs + LSE): the rotation unit.
  double set_bytes() const {
    return 2.0 * 2 * q_elems() + 2.0 * kv_elem_bytes * kv_elems() + 4.0 * lse_elems();
  }
};

// ---- grids ----------------------------------------------------------------------------------
// Prefill (the FlashAttention-3 paper's grid): kTotalTokens tokens in all (batch =
// kTotalTokens / seqlen), hidden kHidden (heads = kHidden / head_dim), causal and not.
constexpr int kTotalTokens = 16384;
constexpr int kHidden = 2048;
Case prefill_case(int head_dim, bool causal, int seqlen);
std::vector<Case> prefill_grid(const std::vector<int>& head_dims, const std::vector<int>& seqlens);

// Decode: query tokens per sequence against a KV cache of seqlen_k tokens.
struct DecodePoint {
  int head_dim = 128, heads_q = 32, heads_kv = 8, batch = 1, kv = 8192, q_tokens = 1;
  int page_size = 0;  // 0 = contiguous
};
Case decode_case(const DecodePoint& p);

// Every value of each decode axis (issue 17, part 1); "full" is their cross product.
struct DecodeAxes {
  std::vector<int> head_dims = {64, 128, 256};
  std::vector<std::pair<int, int>> heads = {{32, 32}, {32, 8}, {64, 8}, {128, 8}};
  std::vector<int> batches = {1, 4, 8, 32, 64, 128};
  std::vector<int> kvs = {1024, 4096, 8192, 32768, 131072};
  std::vector<int> q_tokens = {1, 4};
  std::vector<int> page_sizes = {0, 16, 64};
};
const DecodeAxes& decode_axes();

// Named decode grids:
//   classic   the grid of the runs up to 2026-11-25: d128, 32/8 heads, 1 query token,
//             contiguous, batch 1/8/32/64 x kv 4k/8k/32k (12 cells)
//   headline  every axis value at least once in a few minutes: d128 32/8 q1 contiguous at every
//             batch x kv, then one axis at a time away from it (head dim, heads, query tokens,
//             paged 16/64) at batch 1/8/64 x kv 8k
//   full      the whole cross product (2160 cells: run it in slices with --benchmark_filter)
//   quick     two cells (b8 kv8k, contiguous and paged 16)
//   ab        the part-1 A/B cells: d128, 32/8 and 64/8 heads (GQA 4, 8), 1 token, contiguous,
//             batch 8/32/64 x kv 8k/32k (12 cells; with --ptxfmha_decode_variants)
// Returns false (and *why) for an unknown name.
bool decode_grid(const std::string& which, std::vector<Case>* out, std::string* why);
const char* decode_grid_names();  // "classic|headline|full|quick"

// Decode A/B variants (--ptxfmha_decode_variants=ITEM[,ITEM...], issue 17): every decode cell is
// run once per item. An item is "default" (the cell as it is) or tokens joined by '+':
//   e4m3      the cell with an e4m3 (FP8) K/V cache (family decode_e4m3: bf16 Q/O, per-KV-head
//             power-of-two scales decode_e4m3_scale, so the gate's dequantised cache is exact bf16)
//   k=STEM    the split kernel fmha_decode_<STEM>_<arch> (a kernel-table row, e.g. d128_ef)
//   wN        the min-waves split policy with N waves (more, shorter CTAs)
// e.g. "default,k=d128_ef,k=d128_s6,w8,e4m3,e4m3+k=d128_e4m3_ef".
struct DecodeVariant {
  bool e4m3 = false;
  std::string kernel_stem;  // "" = the library's row
  int min_waves = 0;
};
bool parse_decode_variant(const std::string& item, DecodeVariant* v, std::string* why);
// The cells of `items` for each decode cell of `base` (other cells pass through), in base order.
std::vector<Case> decode_variant_cells(const std::vector<Case>& base, const std::vector<std::string>& items);
// The scales of the e4m3 cells' KV head h: K = 2^-(4 + h % 2) e4m3, V = 2^-(4 + (h + 1) % 2) e4m3
// (the arena holds e4m3 codes of N(0, 1) x 16).
float decode_e4m3_scale(bool v, int64_t h);

// Google Benchmark's --benchmark_filter rule: empty or "all" matches everything, a leading '-'
// negates, otherwise a POSIX extended regular expression searched in the name. A malformed
// expression matches nothing and sets *why.
bool name_matches(const std::string& name, const std::string& filter, std::string* why = nullptr);

// ---- device memory ---------------------------------------------------------------------------
// Capacity (elements) of one family's buffers: every case of the family views a prefix, or
// `sets` disjoint slices when it rotates its inputs.
struct ArenaSize {
  int64_t q_elems = 0, kv_elems = 0, o_elems = 0, lse_elems = 0;
  // Device bytes: Q, K, V, two outputs (ours, cuDNN) and two LSE.
  double bytes() const { return 2.0 * (q_elems + 2 * kv_elems + 2 * o_elems) + 8.0 * lse_elems; }
};
constexpr int kMaxSets = 64;
// Disjoint input sets a case rotates over so that its working set exceeds twice the L2.
int wanted_sets(const Case& c, std::size_t l2_bytes);
// Device bytes of one case with `sets` input sets (the arena share, page table, seqlens).
double case_bytes(const Case& c, int sets);

// Sizes the arenas of `cases` (families in order of first appearance) within `budget` bytes.
// A case whose single set does not fit in what the earlier families' arenas leave gets a
// reason in (*skip)[i] ("" = runs); arenas are sized to the cases that fit.
struct MemoryPlan {
  std::vector<std::string> families;
  std::vector<ArenaSize> arenas;  // parallel to families
  std::vector<std::string> skip;  // parallel to the cases
  const ArenaSize* arena(const std::string& family) const;
};
MemoryPlan plan_memory(const std::vector<Case>& cases, std::size_t l2_bytes, double budget_bytes);

}  // namespace ptxfmha_bench
