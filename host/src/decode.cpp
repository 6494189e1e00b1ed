// ptxfmha_decode and ptxfmha_decode_workspace_size: the operand views and the validation that
// needs no device; the launch path is decode_launch.cpp (shared with ptxfmha_decode_attn), the
// pure launch plan decode_plan.cpp. See decode.h for the flow and the list of checks,
// ptx/body/sm90_decode/kernel.ptxh and combine.ptxh for the kernels.
#include "decode.h"

#include <cinttypes>
#include <cmath>
#include <cstring>
#include <exception>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>

#include "context.h"
#include "decode_abi.h"
#include "device_range.h"
#include "driver.h"
#include "kernel_lookup.h"
#include "launch.h"
#include "module_cache.h"
#include "status.h"
#include "tensor_map.h"
#include "validate.h"

namespace ptxfmha {

namespace {

constexpr double kLog2e = 1.4426950408889634;
constexpr int kBoxColsElems = 64;           // 128-byte swizzle span of bf16
constexpr int64_t kMaxKeys = INT32_MAX - 64;  // 32-bit key indices in the kernels

bool is_pow2(int64_t x) { return x > 0 && (x & (x - 1)) == 0; }
bool overlaps(uint64_t a_lo, uint64_t a_hi, uint64_t b_lo, uint64_t b_hi) {
  return a_lo < b_hi && b_lo < a_hi;
}

struct Range {
  const char* name;
  uint64_t lo, hi;  // hi == lo: absent
};

Range lse_range(const ptxfmha_decode_params& p) {
  const uint64_t lo = reinterpret_cast<uintptr_t>(p.lse);
  return {"lse", lo, p.lse ? lo + static_cast<uint64_t>(decode_out_rows(p)) * sizeof(float) : lo};
}
Range seqlens_range(const ptxfmha_decode_params& p) {
  const uint64_t lo = reinterpret_cast<uintptr_t>(p.seqlens_k);
  return {"seqlens_k", lo, p.seqlens_k ? lo + uint64_t(p.batch) * sizeof(int32_t) : lo};
}
Range table_range(const ptxfmha_decode_params& p) {
  const uint64_t lo = reinterpret_cast<uintptr_t>(p.block_table);
  return {"block_table", lo,
          p.block_table ? lo + uint64_t(p.batch) * uint64_t(p.max_blocks_per_seq) * sizeof(int32_t)
                        : lo};
}
Range view_range(const TensorView& t) {
  Range r{t.name, 0, 0};
  tensor_byte_extent(t, &r.lo, &r.hi);  // callers validated the view first
  return r;
}

}  // namespace

TensorView decode_q_view(const ptxfmha_decode_params& p) {
  return {"q", p.q, {p.batch, p.seqlen_q, p.heads_q, p.head_dim},
          {p.q_batch_stride, p.q_seq_stride, p.q_head_stride}, 2};
}
TensorView decode_o_view(const ptxfmha_decode_params& p) {
  return {"o", p.o, {p.batch, p.seqlen_q, p.heads_q, p.head_dim},
          {p.o_batch_stride, p.o_seq_stride, p.o_head_stride}, 2};
}
TensorView decode_k_view(const ptxfmha_decode_params& p, int kv_bytes) {
  if (p.block_table != nullptr)
    return {"k", p.k_cache, {p.num_pages, p.page_size, p.heads_kv, p.head_dim},
            {p.k_batch_stride, p.k_seq_stride, p.k_head_stride}, kv_bytes};
  return {"k", p.k_cache, {p.batch, p.max_seqlen_k, p.heads_kv, p.head_dim},
          {p.k_batch_stride, p.k_seq_stride, p.k_head_stride}, kv_bytes};
}
TensorView decode_v_view(const ptxfmha_decode_params& p, int kv_bytes) {
  if (p.block_table != nullptr)
    return {"v", p.v_cache, {p.num_pages, p.page_size, p.heads_kv, p.head_dim},
            {p.v_batch_stride, p.v_seq_stride, p.v_head_stride}, kv_bytes};
  return {"v", p.v_cache, {p.batch, p.max_seqlen_k, p.heads_kv, p.head_dim},
          {p.v_batch_stride, p.v_seq_stride, p.v_head_stride}, kv_bytes};
}

ptxfmha_status validate_decode_shape(const ptxfmha_decode_params* p, int kv_bytes) {
  if (p == nullptr) return fail(PTXFMHA_ERR_NULL_POINTER, "params is NULL");
  ptxfmha_status st = require_non_null(
      {{p->q, "q"}, {p->k_cache, "k_cache"}, {p->v_cache, "v_cache"}, {p->o, "o"}});
  if (st != PTXFMHA_OK) return st;
  st = require_positive({{p->batch, "batch"}, {p->seqlen_q, "seqlen_q"},
                         {p->max_seqlen_k, "max_seqlen_k"}, {p->heads_q, "heads_q"},
                         {p->heads_kv, "heads_kv"}, {p->head_dim, "head_dim"}});
  if (st != PTXFMHA_OK) return st;
  if (p->seqlen_q > kDecodeMaxSeqlenQ)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "seqlen_q = %d exceeds the decode limit of %d query tokens per sequence "
                "(use ptxfmha_fwd for longer queries)",
                p->seqlen_q, kDecodeMaxSeqlenQ);
  if (p->heads_q % p->heads_kv != 0)
    return fail(PTXFMHA_ERR_GQA_RATIO, "heads_q = %d is not a multiple of heads_kv = %d",
                p->heads_q, p->heads_kv);

  const struct {
    const void* ptr;
    const char* name;
    unsigned align;
  } aligned[] = {{p->q, "q", 16},          {p->k_cache, "k_cache", 16},
                 {p->v_cache, "v_cache", 16}, {p->o, "o", 16},
                 {p->lse, "lse", 4},        {p->seqlens_k, "seqlens_k", 4},
                 {p->block_table, "block_table", 4}, {p->workspace, "workspace", 16}};
  for (const auto& e : aligned)
    if (reinterpret_cast<uintptr_t>(e.ptr) % e.align != 0)
      return fail(PTXFMHA_ERR_MISALIGNED_POINTER, "%s = %p is not %u-byte aligned", e.name, e.ptr,
                  e.align);

  if (!std::isfinite(p->softmax_scale) || !(p->softmax_scale > 0.0f))
    return fail(PTXFMHA_ERR_INVALID_SCALE, "softmax_scale = %g must be finite and > 0",
                static_cast<double>(p->softmax_scale));
  if (p->causal != 0 && p->causal != 1)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "causal = %d must be 0 or 1", p->causal);
  if (p->num_splits < 0 || p->num_splits > kDecodeMaxSplits)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "num_splits = %d must be 0 (chosen by the library) or 1..%d", p->num_splits,
                kDecodeMaxSplits);

  if (p->block_table != nullptr) {
    if (!is_pow2(p->page_size) || p->page_size < kDecodeMinPageSize ||
        p->page_size > kDecodeMaxPageSize)
      return fail(PTXFMHA_ERR_INVALID_PAGE_TABLE,
                  "page_size = %d must be a power of two in [%d, %d]", p->page_size,
                  kDecodeMinPageSize, kDecodeMaxPageSize);
    if (p->max_blocks_per_seq < 1)
      return fail(PTXFMHA_ERR_INVALID_PAGE_TABLE, "max_blocks_per_seq = %d must be >= 1",
                  p->max_blocks_per_seq);
    if (p->num_pages < 1)
      return fail(PTXFMHA_ERR_INVALID_PAGE_TABLE, "num_pages = %d must be >= 1", p->num_pages);
    if (int64_t(p->max_blocks_per_seq) * p->page_size < p->max_seqlen_k)
      return fail(PTXFMHA_ERR_INVALID_PAGE_TABLE,
                  "max_blocks_per_seq * page_size = %d * %d = %" PRId64
                  " pages' worth of tokens is less than max_seqlen_k = %d",
                  p->max_blocks_per_seq, p->page_size,
                  int64_t(p->max_blocks_per_seq) * p->page_size, p->max_seqlen_k);
  }

  if (p->batch > kMaxGridYZ)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW, "batch = %d exceeds %d (grid z dimension)", p->batch,
                static_cast<int>(kMaxGridYZ));
  if (p->max_seqlen_k > kMaxKeys)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW,
                "max_seqlen_k = %d exceeds %" PRId64 " (the kernels index keys in 32 bits)",
                p->max_seqlen_k, kMaxKeys);
  if (decode_out_rows(*p) > INT32_MAX)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW,
                "batch * heads_q * seqlen_q = %d * %d * %d = %" PRId64
                " query rows exceed 2^31-1 (kernels index O/LSE rows in 32 bits)",
                p->batch, p->heads_q, p->seqlen_q, decode_out_rows(*p));
  if (p->block_table != nullptr && int64_t(p->batch) * p->max_blocks_per_seq > INT32_MAX)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW,
                "batch * max_blocks_per_seq = %d * %d block-table entries exceed 2^31-1",
                p->batch, p->max_blocks_per_seq);

  const TensorView views[4] = {decode_q_view(*p), decode_k_view(*p, kv_bytes),
                               decode_v_view(*p, kv_bytes), decode_o_view(*p)};
  for (const TensorView& t : views) {
    ptxfmha_status st = validate_tensor(t);
    if (st != PTXFMHA_OK) return st;
  }
  // Outputs must not overlap inputs (the kernels read inputs while writing outputs).
  const Range q = view_range(views[0]), k = view_range(views[1]), v = view_range(views[2]);
  const Range o = view_range(views[3]);
  Range lse = lse_range(*p), sl = seqlens_range(*p), bt = table_range(*p);
  if (p->lse != nullptr && lse.hi < lse.lo)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW, "lse = %p plus its extent overflows the address space",
                static_cast<const void*>(p->lse));
  const Range inputs[5] = {q, {"k_cache", k.lo, k.hi}, {"v_cache", v.lo, v.hi}, sl, bt};
  for (const Range& in : inputs) {
    if (in.hi == in.lo) continue;
    if (overlaps(o.lo, o.hi, in.lo, in.hi))
      return fail(PTXFMHA_ERR_ALIASING,
                  "o (bytes [0x%" PRIx64 ", 0x%" PRIx64 ")) overlaps %s (bytes [0x%" PRIx64
                  ", 0x%" PRIx64 "))",
                  o.lo, o.hi, in.name, in.lo, in.hi);
  }
  if (p->lse != nullptr) {
    const Range others[6] = {o, q, {"k_cache", k.lo, k.hi}, {"v_cache", v.lo, v.hi}, sl, bt};
    for (const Range& in : others) {
      if (in.hi == in.lo) continue;
      if (overlaps(lse.lo, lse.hi, in.lo, in.hi))
        return fail(PTXFMHA_ERR_ALIASING,
                    "lse (bytes [0x%" PRIx64 ", 0x%" PRIx64 ")) overlaps %s (bytes [0x%" PRIx64
                    ", 0x%" PRIx64 "))",
                    lse.lo, lse.hi, in.name, in.lo, in.hi);
    }
  }
  return PTXFMHA_OK;
}

int decode_attn_kv_bytes(const ptxfmha_decode_attn_params& p) {
  return p.kv_dtype == PTXFMHA_KV_E4M3 ? 1 : 2;
}

DecodeCall decode_call_plain(const ptxfmha_decode_params& p) {
  DecodeCall c;
  c.base = p;
  c.window_right = p.causal ? 0 : -1;  // a feature row run on a plain call keeps its causal mask
  return c;
}

std::vector<DecodeRange> decode_call_ranges(const DecodeCall& c) {
  const ptxfmha_decode_params& p = c.base;
  std::vector<DecodeRange> r;
  const Range views[4] = {view_range(decode_q_view(p)), view_range(decode_k_view(p, c.kv_bytes)),
                          view_range(decode_v_view(p, c.kv_bytes)), view_range(decode_o_view(p))};
  const char* names[4] = {"q", "k_cache", "v_cache", "o"};
  for (int i = 0; i < 4; ++i) r.push_back({names[i], views[i].lo, views[i].hi});
  for (const Range& x : {lse_range(p), seqlens_range(p), table_range(p)}) r.push_back({x.name, x.lo, x.hi});
  auto array = [](const char* name, const void* ptr, uint64_t bytes) {
    const uint64_t lo = reinterpret_cast<uintptr_t>(ptr);
    return DecodeRange{name, lo, ptr != nullptr ? lo + bytes : lo};
  };
  const uint64_t heads_bytes = uint64_t(p.heads_q) * sizeof(float);
  const uint64_t scale_bytes = uint64_t(c.kv_scale_count > 0 ? c.kv_scale_count : 0) * sizeof(float);
  r.push_back(array("sink_logits", c.sink_logits, heads_bytes));
  r.push_back(array("alibi_slopes", c.alibi_slopes, heads_bytes));
  r.push_back(array("k_scale", c.k_scale, scale_bytes));
  r.push_back(array("v_scale", c.v_scale, scale_bytes));
  return r;
}

ptxfmha_status decode_with_overrides(const ptxfmha_decode_params* p, const DecodeOverrides& o,
                                     bool launch, uint64_t* ws_bytes, DecodePlan* plan_out) {
  ptxfmha_status st = validate_decode_shape(p);
  if (st != PTXFMHA_OK) return st;
  DecodeCall c = decode_call_plain(*p);
  c.overrides = o;
  return decode_run(c, launch, ws_bytes, plan_out);
}

}  // namespace ptxfmha

extern "C" PTXFMHA_API ptxfmha_status ptxfmha_decode(const ptxfmha_decode_params* params) {
  try {
    return ptxfmha::decode_with_overrides(params, ptxfmha::DecodeOverrides(), true, nullptr);
  } catch (const std::bad_alloc&) {
    return ptxfmha::fail(PTXFMHA_ERR_INVALID_ARGUMENT, "ptxfmha_decode: out of host memory");
  } catch (const std::exception& e) {
    return ptxfmha::fail(PTXFMHA_ERR_INVALID_ARGUMENT, "ptxfmha_decode: internal error: %s", e.what());
  }
}

extern "C" PTXFMHA_API ptxfmha_status ptxfmha_decode_workspace_size(
    const ptxfmha_decode_params* params, uint64_t* bytes) {
  try {
    if (bytes == nullptr) return ptxfmha::fail(PTXFMHA_ERR_NULL_POINTER, "bytes is NULL");
    uint64_t b = 0;
    ptxfmha_status st = ptxfmha::decode_with_overrides(params, ptxfmha::DecodeOverrides(), false, &b);
    if (st == PTXFMHA_OK) *bytes = b;
    return st;
  } catch (const std::bad_alloc&) {
    return ptxfmha::fail(PTXFMHA_ERR_INVALID_ARGUMENT, "ptxfmha_decode_workspace_size: out of host memory");
  } catch (const std::exception& e) {
    return ptxfmha::fail(PTXFMHA_ERR_INVALID_ARGUMENT, "ptxfmha_decode_workspace_size: internal error: %s",
                         e.what());
  }
}
