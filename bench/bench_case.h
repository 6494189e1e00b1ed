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
  std::string family;  // "fwd" (prefill), "decode" or "bwd": the Family that runs it
  int64_t batch = 0, seqlen_q = 0, seqlen_k = 0, heads_q = 0, heads_kv = 0, head_dim = 0;
  bool causal = false;   // bottom-right aligned
  int64_t page_size = 0; // decode: tokens per page of a paged K/V cache; 0 = contiguous cache
  // Backward (family "bwd", bench/family_bwd.cpp): each launch reads Q, K, V, O, dO, LSE and
  // writes dQ, dK, dV (its arena holds dO and both sides' gradients); deterministic: both
  // sides' deterministic algorithms.
  bool grads = false;
  bool deterministic = false;
  int kv_elem_bytes = 2; // decode: bytes per K/V cache element (2 bf16; 1 e4m3: family decode_e4m3)
  std::string variant;   // decode: an A/B variant (parse_decode_variant); "" = the library's choice
  std::string name;      // Google Benchmark name prefix, e.g. "fwd/d128/causal/s4096/b4h16"
  std::string shape;     // the table's first column
  // Family "attn" (serving features, bench/family_attn.cpp; attn_grid below):
  std::vector<int32_t> seqlens;  // variable length: per-sequence lengths, Q = K (packed
                                 //   [total, heads, d]; batch = sequences, seqlen_* = the longest)
  int64_t window_left = -1;      // sliding window: keys left of the diagonal a row sees, -1 = none
  float softcap = 0;             // logit softcap (cuDNN only on unmasked cells: family_attn.cpp), 0 = off
  bool sinks = false;            // one sink logit per query head
  bool features_off = false;     // the EXT feature row with every feature off (the A/B of the grid)
  double flops_override = 0;     // FLOPs when 4*B*H*Sq*Sk*D does not apply (ragged, window)

  bool decode() const { return family == "decode" || family == "decode_e4m3"; }
  bool paged() const { return page_size > 0; }
  bool varlen() const { return !seqlens.empty(); }
  // Query (and key) rows of Q and O as stored: batch * seqlen_q, or the packed total.
  int64_t q_rows() const {
    if (!varlen()) return batch * seqlen_q;
    int64_t n = 0;
    for (int32_t l : seqlens) n += l;
    return n;
  }
  // Paged caches: pages per sequence (columns of the page table) and pages in the pool.
  int64_t blocks_per_seq() const { return paged() ? (seqlen_k + page_size - 1) / page_size : 0; }
  int64_t num_pages() const { return batch * blocks_per_seq(); }

  int64_t q_elems() const { return q_rows() * heads_q * head_dim; }
  // Elements of K (or V) as stored: a dense [batch, seqlen_k, ...] tensor, the packed keys of
  // a variable-length case, or the page pool.
  int64_t kv_elems() const {
    return (paged() ? num_pages() * page_size : varlen() ? q_rows() : batch * seqlen_k) * heads_kv * head_dim;
  }
  int64_t lse_elems() const { return q_rows() * heads_q; }
  // 4*B*H*Sq*Sk*D, halved for causal (the convention of FlashAttention's papers); a backward
  // case counts 2.5 times that (FlashAttention's convention: 5 GEMMs of the forward's 2).
  double flops() const;
  // Bytes of K and V one call must read (the logical tokens: batch * seqlen_k; bf16 or e4m3).
  double kv_bytes() const { return 2.0 * kv_elem_bytes * double(batch) * seqlen_k * heads_kv * head_dim; }
  // Bytes of Q, K, V and O (the decode GBps counter of the earlier runs).
  double bytes() const { return kv_bytes() + 4.0 * double(q_elems()); }
  // Bytes one launch touches in device memory (inputs + outputs + LSE): the rotation unit
  // (backward: + dO, dQ, dK, dV and the fp32 dQ accumulator).
  double set_bytes() const {
    return 2.0 * 2 * q_elems() + 2.0 * kv_elem_bytes * kv_elems() + 4.0 * lse_elems() +
           (grads ? 2.0 * (2 * q_elems() + 2 * kv_elems()) + 4.0 * q_elems() : 0.0);
  }
};

// ---- grids ----------------------------------------------------------------------------------
// Prefill (the FlashAttention-3 paper's grid): kTotalTokens tokens in all (batch =
// kTotalTokens / seqlen), hidden kHidden (heads = kHidden / head_dim), causal and not.
constexpr int kTotalTokens = 16384;
constexpr int kHidden = 2048;
Case prefill_case(int head_dim, bool causal, int seqlen);
std::vector<Case> prefill_grid(const std::vector<int>& head_dims, const std::vector<int>& seqlens);
// Backward cells on the prefill grid (same batch, heads, lengths; family "bwd"), fast and
// deterministic: "bwd/d128/causal/s4096/b4h16" and ".../det".
Case backward_case(int head_dim, bool causal, int seqlen, bool deterministic);
std::vector<Case> backward_grid(const std::vector<int>& head_dims, const std::vector<int>& seqlens);

// Decode: query tokens per sequence against a KV cache of seqlen_k tokens.
struct DecodePoint {
  int head_dim = 128, heads_q = 32, heads_kv = 8, batch = 1, kv = 8192, q_tokens = 1;
  int page_size = 0;  // 0 = contiguous
};
Case decode_case(const DecodePoint& p);

// Serving-feature cases (family "attn", issue 14), each gated against the feature-aware
// float64 reference:
//   varlen    32 sequences of 128 .. 8k tokens (fixed seed, ~64k tokens), hd128, 32/8 heads,
//             causal (cuDNN: ragged THD SDPA)
//   window    32k tokens, sliding window 4096, hd128, 32/8, causal (cuDNN: diagonal band left
//             bound); beside it the same call without the window ("nowindow")
//   paged     2k new tokens on a 30k-token paged cache (page 64), 2 sequences, hd128, 32/8,
//             causal (cuDNN: paged SDPA)
//   softcap   cap 50, hd256, 16/8 heads, 2 x 8k causal (cuDNN cannot combine its softcap, a
//             score modifier, with a causal mask: its side runs without the cap, so ours with
//             and without the cap compare through it)
//   softcapnc the same, not causal: cuDNN with the same softcap (SdpaProblem::softcap)
//   sinks     sinks + window 128, hd64, 64/8 heads, 2 x 8k causal (cuDNN: sink token + band),
//             beside it the same shape without either ("nosinks")
// plus, with features_off, a twin of every cell of prefill_grid(head_dims, seqlens) run on
// the EXT row with every feature off ("fwdoff/..."): timed in the same run as the plain
// rows' cells, both against the same cuDNN plan (the "features off within 2%" A/B).
std::vector<Case> attn_grid(const std::vector<int>& head_dims, const std::vector<int>& seqlens);
// The number of (query, key) pairs a causal (bottom-right) query of len_q rows over len_k keys
// with a sliding window of `left` keys (-1 = none) sees; exact.
double attn_visible_pairs(int64_t len_q, int64_t len_k, int64_t left);

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

// A paged decode cell's page table: pages 0..n-1 in a shuffled order (xorshift64, seeded by n),
// since a serving engine's pool is not sequential. The bench's cells and `ptxfmha decode-trace`.
std::vector<int32_t> decode_page_order(int64_t n);

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
//   sN        exactly N splits (the call's num_splits)
//   cl        the cluster merge whenever the split count allows (no workspace, no combine
//             kernel: decode.h DecodeClusterPolicy::Force); k=d128_cl names the _cl row (the same)
//   nocl      never the cluster merge (the workspace path: split kernel + combine kernel)
//   pN        the cell's K / V cache in pages of N keys (N a power of two in [16, 256], the
//             library's page sizes), whatever the cell's own cache: the same bytes in other
//             boxes (the TMA box holds min(64, N) keys), e.g. e4m3+p32 beside a page16 cell
//   qN        the cell with N query tokens (1..8, the library's kDecodeMaxSeqlenQ; causal among
//             themselves when N > 1, as the grids' cells): e.g. q8 on a 128/8-heads cell packs 128
//             rows per KV head, two CTAs of 64 reading each K / V tile, twice the products per
//             byte read (s27: a per-CTA lever measured where the memory would hide it)
// ("default" is the library's plan: the Auto cluster policy.)
// e.g. "default,k=d128_ef,k=d128_s6,w8,e4m3,e4m3+k=d128_e4m3_ef,nocl,cl,cl+s8,k=d128_cl+s16".
struct DecodeVariant {
  bool e4m3 = false;
  std::string kernel_stem;  // "" = the library's row
  int min_waves = 0;
  int num_splits = 0;       // sN: the call's num_splits (0 = the library's plan)
  int cluster = 0;          // 0 the library's policy, 1 nocl (Off), 2 cl (Force)
  int page_size = 0;        // pN: pages of N keys (0 = the cell's own cache)
  int q_tokens = 0;         // qN: N query tokens (0 = the cell's own)
  bool tma = false;         // tma: the cp.async rows load a contiguous cache through TMA (DecodeOverrides::tma)
};
bool parse_decode_variant(const std::string& item, DecodeVariant* v, std::string* why);
// The cells of `items` for each decode cell of `base` (other cells pass through), in base order.
std::vector<Case> decode_variant_cells(const std::vector<Case>& base, const std::vector<std::string>& items);
// The scales of the e4m3 cells' KV head h: K = 2^-(4 + h % 2) e4m3, V = 2^-(4 + (h + 1) % 2) e4m3
// (the arena holds e4m3 codes of N(0, 1) x 16).
float decode_e4m3_scale(bool v, int64_t h);
// The gate's dequantised e4m3 cache: dst[i] = bf16(e4m3(src[i]) x decode_e4m3_scale(v, h)) for
// `tokens` rows of heads_kv x head_dim bytes (h = the element's KV head), through a table of the
// 256 codes per KV head: 0.28 s for 268 M codes on a CI core, where the per-element conversion
// took 4.8 s (the H200 machine's e4m3 gates spent 12-24 s a cell on their reference inputs).
void dequantise_e4m3_rows(const uint8_t* src, int64_t tokens, int64_t heads_kv, int64_t head_dim, bool v,
                          uint16_t* dst);

// Google Benchmark's --benchmark_filter rule: empty or "all" matches everything, a leading '-'
// negates, otherwise a POSIX extended regular expression searched in the name. A malformed
// expression matches nothing and sets *why.
bool name_matches(const std::string& name, const std::string& filter, std::string* why = nullptr);

// ---- device memory ---------------------------------------------------------------------------
// Capacity (elements) of one family's buffers: every case of the family views a prefix, or
// `sets` disjoint slices when it rotates its inputs.
struct ArenaSize {
  int64_t q_elems = 0, kv_elems = 0, o_elems = 0, lse_elems = 0;
  int64_t grad_q_elems = 0, grad_kv_elems = 0;  // backward: dO, and dQ, dK, dV of both sides
  // Device bytes: Q, K, V, two outputs (ours, cuDNN) and two LSE (+ dO and two sets of dQ, dK, dV).
  double bytes() const {
    return 2.0 * (q_elems + 2 * kv_elems + 2 * o_elems) + 8.0 * lse_elems +
           2.0 * (3 * grad_q_elems + 4 * grad_kv_elems);
  }
};
constexpr int kMaxSets = 64;
// Disjoint input sets a case rotates over so that its working set exceeds twice the L2.
int wanted_sets(const Case& c, std::size_t l2_bytes);
// Device bytes of one case with `sets` input sets (the arena share, page table, seqlens).
double case_bytes(const Case& c, int sets);

// Sizes the arenas of `cases` (families in order of first appearance), each within `budget`
// bytes on its own. A case whose single set does not fit in the budget gets a reason in
// skip[i] ("" = runs); arenas are sized to the cases that fit. When the arenas together exceed
// the budget (e.g. a bf16 decode cell of 128 GiB beside its e4m3 variant), in_turn is set: the
// bench then runs the cases grouped by family (group_by_family) and holds one family's arena at a
// time (ensure_arena releases the others). Until 2026-12-03 each family got what the earlier
// ones left, and an e4m3 variant beside a large bf16 cell was skipped as not fitting.
struct MemoryPlan {
  std::vector<std::string> families;
  std::vector<ArenaSize> arenas;  // parallel to families
  std::vector<std::string> skip;  // parallel to the cases
  bool in_turn = false;           // the arenas do not fit together: one at a time
  const ArenaSize* arena(const std::string& family) const;
};
MemoryPlan plan_memory(const std::vector<Case>& cases, std::size_t l2_bytes, double budget_bytes);
// Reorders `cases` so that each family's cases are contiguous, families in order of first
// appearance, cases in their order within a family (stable).
void group_by_family(std::vector<Case>* cases);

}  // namespace ptxfmha_bench
