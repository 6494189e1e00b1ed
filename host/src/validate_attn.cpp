// Validation of ptxfmha_attn_params / ptxfmha_decode_attn_params. See validate_attn.h.
#include "validate_attn.h"

#include <cinttypes>
#include <cmath>
#include <cstddef>
#include <cstring>

#include "decode.h"
#include "runtime.h"

namespace ptxfmha {

static_assert(sizeof(ptxfmha_attn_params) == PTXFMHA_ATTN_PARAMS_SIZE_V1,
              "ptxfmha_attn_params grew: append fields after the V1 ones and keep the V1 macro");
static_assert(sizeof(ptxfmha_decode_attn_params) == PTXFMHA_DECODE_ATTN_PARAMS_SIZE_V2,
              "ptxfmha_decode_attn_params grew: append fields after the V2 ones and add a V3 macro");
static_assert(offsetof(ptxfmha_decode_attn_params, kv_dtype) == PTXFMHA_DECODE_ATTN_PARAMS_SIZE_V1,
              "the V2 fields start where V1 ended");
// The V1 layouts are ABI: a field moved is a silent break for every caller.
static_assert(offsetof(ptxfmha_attn_params, q) == 8, "abi");
static_assert(offsetof(ptxfmha_attn_params, q_batch_stride) == 48, "abi");
static_assert(offsetof(ptxfmha_attn_params, batch) == 144, "abi");
static_assert(offsetof(ptxfmha_attn_params, stream) == 176, "abi");
static_assert(offsetof(ptxfmha_attn_params, cu_seqlens_q) == 184, "abi");
static_assert(offsetof(ptxfmha_attn_params, max_seqlen_q) == 208, "abi");
static_assert(offsetof(ptxfmha_attn_params, total_k) == 220, "abi");
static_assert(offsetof(ptxfmha_attn_params, block_table) == 224, "abi");
static_assert(offsetof(ptxfmha_attn_params, window_left) == 244, "abi");
static_assert(offsetof(ptxfmha_attn_params, softcap) == 252, "abi");
static_assert(offsetof(ptxfmha_attn_params, sink_logits) == 256, "abi");
static_assert(offsetof(ptxfmha_attn_params, alibi_slopes) == 264, "abi");
static_assert(offsetof(ptxfmha_decode_attn_params, q) == 8, "abi");
static_assert(offsetof(ptxfmha_decode_attn_params, q_batch_stride) == 64, "abi");
static_assert(offsetof(ptxfmha_decode_attn_params, batch) == 160, "abi");
static_assert(offsetof(ptxfmha_decode_attn_params, workspace) == 208, "abi");
static_assert(offsetof(ptxfmha_decode_attn_params, stream) == 224, "abi");
static_assert(offsetof(ptxfmha_decode_attn_params, sink_logits) == 232, "abi");
static_assert(offsetof(ptxfmha_decode_attn_params, window_left) == 248, "abi");
static_assert(offsetof(ptxfmha_decode_attn_params, reserved) == 260, "abi");

namespace {

using u128 = unsigned __int128;

constexpr uint64_t kMaxStructBytes = 65536;  // a larger struct_size is garbage, not a version
constexpr int kMinPageSize = 16, kMaxPageSize = 256;

bool is_pow2(int64_t x) { return x > 0 && (x & (x - 1)) == 0; }
bool overlaps(const ByteRange& a, const ByteRange& b) {
  return a.hi > a.lo && b.hi > b.lo && a.lo < b.hi && b.lo < a.hi;
}

// Shared struct_size logic of both blocks.
ptxfmha_status load_block(const void* user, uint64_t user_size, void* out, std::size_t own_size,
                          uint64_t v1_size, const char* type) {
  if (user_size < v1_size)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "struct_size = %" PRIu64 " is less than %" PRIu64
                ", the size of the first version of %s (initialise the block with %s_init)",
                user_size, v1_size, type, type);
  if (user_size > kMaxStructBytes)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "struct_size = %" PRIu64 " is implausibly large for %s (more than %" PRIu64
                " bytes): the block was not initialised",
                user_size, type, kMaxStructBytes);
  const unsigned char* u = static_cast<const unsigned char*>(user);
  for (uint64_t i = own_size; i < user_size; ++i)
    if (u[i] != 0)
      return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                  "struct_size = %" PRIu64 ": byte %" PRIu64 " of %s is not 0, but this library "
                  "knows only its first %zu bytes (a field of a newer ptxfmha.h this library does "
                  "not implement is set)",
                  user_size, i, type, own_size);
  std::memcpy(out, user, user_size < own_size ? static_cast<std::size_t>(user_size) : own_size);
  return PTXFMHA_OK;
}

}  // namespace

ptxfmha_status check_lengths(bool varlen, const char* cu_name, int32_t batch, int32_t seqlen,
                             const char* seqlen_name, int32_t max_len, const char* max_name,
                             int32_t total, const char* total_name) {
  if (!varlen) {
    if (seqlen <= 0)
      return fail(PTXFMHA_ERR_INVALID_SIZE, "%s = %d must be > 0", seqlen_name, seqlen);
    if (max_len != 0)
      return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                  "%s = %d is used only with %s (variable length); it must be 0 here",
                  max_name, max_len, cu_name);
    if (total != 0)
      return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                  "%s = %d is used only with %s (variable length); it must be 0 here",
                  total_name, total, cu_name);
    return PTXFMHA_OK;
  }
  if (seqlen != 0)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "%s = %d must be 0 with %s (the lengths come from %s, their bound from %s)",
                seqlen_name, seqlen, cu_name, cu_name, max_name);
  if (max_len < 0)
    return fail(PTXFMHA_ERR_INVALID_SIZE, "%s = %d must be >= 0", max_name, max_len);
  if (total < 0)
    return fail(PTXFMHA_ERR_INVALID_SIZE, "%s = %d must be >= 0", total_name, total);
  if (max_len > total)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "%s = %d exceeds %s = %d (no sequence can be longer than the packed tensor)",
                max_name, max_len, total_name, total);
  if (int64_t(total) > int64_t(batch) * max_len)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "%s = %d exceeds batch * %s = %d * %d = %" PRId64
                " (the rows batch sequences of at most %s can hold)",
                total_name, total, max_name, batch, max_len, int64_t(batch) * max_len, max_name);
  return PTXFMHA_OK;
}

ptxfmha_status check_max_lens(std::initializer_list<NamedSize> lens) {
  for (const NamedSize& l : lens)
    if (l.value > kAttnMaxLen)
      return fail(PTXFMHA_ERR_SIZE_OVERFLOW,
                  "%s = %d exceeds %d (kernels index rows and keys in 32 bits, rounded up to tiles)",
                  l.name, l.value, kAttnMaxLen);
  return PTXFMHA_OK;
}

ptxfmha_status check_packed_batch_strides(std::initializer_list<PackedBatchStride> strides) {
  for (const PackedBatchStride& b : strides)
    if (b.packed && b.stride != 0)
      return fail(PTXFMHA_ERR_INVALID_STRIDE,
                  "%s = %" PRId64 " must be 0 with %s (the packed layout has no batch dimension)",
                  b.name, b.stride, b.cu);
  return PTXFMHA_OK;
}

namespace {

ptxfmha_status check_range(ByteRange* r, const void* ptr, uint64_t bytes) {
  const uint64_t lo = reinterpret_cast<uintptr_t>(ptr);
  if (ptr == nullptr || bytes == 0) {
    r->lo = r->hi = lo;
    return PTXFMHA_OK;
  }
  if (lo > UINT64_MAX - bytes)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW, "%s = %p plus %" PRIu64 " bytes overflows the address space",
                r->name, ptr, bytes);
  r->lo = lo;
  r->hi = lo + bytes;
  return PTXFMHA_OK;
}

ByteRange view_range(const TensorView& t, bool empty) {
  ByteRange r{t.name, 0, 0};
  if (empty) {
    r.lo = r.hi = reinterpret_cast<uintptr_t>(t.ptr);
    return r;
  }
  tensor_byte_extent(t, &r.lo, &r.hi);  // the caller validated the view
  return r;
}

// Named ranges of the non-tensor arrays (lse, metadata, sinks, slopes); SIZE_OVERFLOW when one
// wraps the address space.
ptxfmha_status array_ranges(const ptxfmha_attn_params& p, std::vector<ByteRange>* out) {
  const uint64_t b = static_cast<uint64_t>(p.batch);
  const struct {
    const char* name;
    const void* ptr;
    uint64_t bytes;
  } arrays[] = {
      {"lse", p.lse, static_cast<uint64_t>(attn_query_rows(p)) * uint64_t(p.heads_q) * 4},
      {"cu_seqlens_q", p.cu_seqlens_q, (b + 1) * 4},
      {"cu_seqlens_k", p.cu_seqlens_k, (b + 1) * 4},
      {"seqused_k", p.seqused_k, b * 4},
      {"block_table", p.block_table, b * static_cast<uint64_t>(p.max_blocks_per_seq > 0 ? p.max_blocks_per_seq : 0) * 4},
      {"sink_logits", p.sink_logits, uint64_t(p.heads_q) * 4},
      {"alibi_slopes", p.alibi_slopes, uint64_t(p.heads_q) * 4},
  };
  for (const auto& a : arrays) {
    ByteRange r{a.name, 0, 0};
    ptxfmha_status st = check_range(&r, a.ptr, a.bytes);
    if (st != PTXFMHA_OK) return st;
    out->push_back(r);
  }
  return PTXFMHA_OK;
}

ptxfmha_status fail_overlap(const ByteRange& out, const ByteRange& in) {
  return fail(PTXFMHA_ERR_ALIASING,
              "%s (bytes [0x%" PRIx64 ", 0x%" PRIx64 ")) overlaps %s (bytes [0x%" PRIx64
              ", 0x%" PRIx64 "))",
              out.name, out.lo, out.hi, in.name, in.lo, in.hi);
}

}  // namespace

// ---- struct_size versioning -------------------------------------------------------------
void attn_params_defaults(ptxfmha_attn_params* p) {
  std::memset(p, 0, sizeof *p);
  p->struct_size = sizeof *p;
  p->window_left = -1;
  p->window_right = -1;
}

void decode_attn_params_defaults(ptxfmha_decode_attn_params* p) {
  std::memset(p, 0, sizeof *p);
  p->struct_size = sizeof *p;
  p->window_left = -1;
  p->window_right = -1;
}

ptxfmha_status load_attn_params(const ptxfmha_attn_params* user, ptxfmha_attn_params* out) {
  if (user == nullptr) return fail(PTXFMHA_ERR_NULL_POINTER, "params is NULL");
  attn_params_defaults(out);
  ptxfmha_status st = load_block(user, user->struct_size, out, sizeof *out,
                                 PTXFMHA_ATTN_PARAMS_SIZE_V1, "ptxfmha_attn_params");
  out->struct_size = sizeof *out;
  return st;
}

ptxfmha_status load_decode_attn_params(const ptxfmha_decode_attn_params* user,
                                       ptxfmha_decode_attn_params* out) {
  if (user == nullptr) return fail(PTXFMHA_ERR_NULL_POINTER, "params is NULL");
  decode_attn_params_defaults(out);
  ptxfmha_status st = load_block(user, user->struct_size, out, sizeof *out,
                                 PTXFMHA_DECODE_ATTN_PARAMS_SIZE_V1, "ptxfmha_decode_attn_params");
  out->struct_size = sizeof *out;
  return st;
}

// ---- shapes -----------------------------------------------------------------------------
bool attn_varlen_q(const ptxfmha_attn_params& p) { return p.cu_seqlens_q != nullptr; }
bool attn_varlen_k(const ptxfmha_attn_params& p) { return p.cu_seqlens_k != nullptr; }
bool attn_paged(const ptxfmha_attn_params& p) { return p.block_table != nullptr; }
int32_t attn_max_len_q(const ptxfmha_attn_params& p) {
  return attn_varlen_q(p) ? p.max_seqlen_q : p.seqlen_q;
}
int32_t attn_max_len_k(const ptxfmha_attn_params& p) {
  return attn_varlen_k(p) ? p.max_seqlen_k : p.seqlen_k;
}
int64_t attn_query_rows(const ptxfmha_attn_params& p) {
  return attn_varlen_q(p) ? int64_t(p.total_q) : int64_t(p.batch) * p.seqlen_q;
}

namespace {

// Q / O: fixed [batch, seqlen_q] or packed [1, total_q]; strides {batch, seq, head}.
TensorView q_side_view(const ptxfmha_attn_params& p, const char* name, const void* ptr, const int64_t* s) {
  if (attn_varlen_q(p)) return {name, ptr, {1, p.total_q, p.heads_q, p.head_dim}, {0, s[1], s[2]}, 2};
  return {name, ptr, {p.batch, p.seqlen_q, p.heads_q, p.head_dim}, {s[0], s[1], s[2]}, 2};
}
// K / V: paged [num_pages, page_size], packed [1, total_k] or fixed [batch, seqlen_k].
TensorView k_side_view(const ptxfmha_attn_params& p, const char* name, const void* ptr, const int64_t* s) {
  if (attn_paged(p)) return {name, ptr, {p.num_pages, p.page_size, p.heads_kv, p.head_dim}, {s[0], s[1], s[2]}, 2};
  if (attn_varlen_k(p)) return {name, ptr, {1, p.total_k, p.heads_kv, p.head_dim}, {0, s[1], s[2]}, 2};
  return {name, ptr, {p.batch, p.seqlen_k, p.heads_kv, p.head_dim}, {s[0], s[1], s[2]}, 2};
}

}  // namespace

TensorView attn_q_view(const ptxfmha_attn_params& p) {
  const int64_t s[3] = {p.q_batch_stride, p.q_seq_stride, p.q_head_stride};
  return q_side_view(p, "q", p.q, s);
}
TensorView attn_o_view(const ptxfmha_attn_params& p) {
  const int64_t s[3] = {p.o_batch_stride, p.o_seq_stride, p.o_head_stride};
  return q_side_view(p, "o", p.o, s);
}
TensorView attn_k_view(const ptxfmha_attn_params& p) {
  const int64_t s[3] = {p.k_batch_stride, p.k_seq_stride, p.k_head_stride};
  return k_side_view(p, "k", p.k, s);
}
TensorView attn_v_view(const ptxfmha_attn_params& p) {
  const int64_t s[3] = {p.v_batch_stride, p.v_seq_stride, p.v_head_stride};
  return k_side_view(p, "v", p.v, s);
}

std::vector<ByteRange> attn_byte_ranges(const ptxfmha_attn_params& p) {
  const bool empty_q = attn_varlen_q(p) && p.total_q == 0;
  const bool empty_k = attn_varlen_k(p) && p.total_k == 0;
  std::vector<ByteRange> r = {view_range(attn_q_view(p), empty_q), view_range(attn_k_view(p), empty_k),
                              view_range(attn_v_view(p), empty_k), view_range(attn_o_view(p), empty_q)};
  array_ranges(p, &r);  // validated: no overflow
  return r;
}

ptxfmha_status validate_window_softcap(int32_t causal, int32_t window_left, int32_t window_right,
                                       float softcap) {
  if (window_left < -1)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "window_left = %d must be >= -1 (-1 = unbounded)",
                window_left);
  if (window_right < -1)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "window_right = %d must be >= -1 (-1 = unbounded)",
                window_right);
  if (causal == 1 && window_right > 0)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "window_right = %d contradicts causal = 1 (causal is window_right = 0): pass "
                "window_right -1 or 0 with causal, or causal 0 with the window",
                window_right);
  if (!std::isfinite(softcap) || softcap < 0.0f)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "softcap = %g must be finite and >= 0 (0 disables it)",
                static_cast<double>(softcap));
  return PTXFMHA_OK;
}

ptxfmha_status validate_attn_shape(const ptxfmha_attn_params& p) {
  ptxfmha_status st = require_non_null({{p.q, "q"}, {p.k, "k"}, {p.v, "v"}, {p.o, "o"}});
  if (st != PTXFMHA_OK) return st;
  st = require_positive({{p.batch, "batch"}, {p.heads_q, "heads_q"}, {p.heads_kv, "heads_kv"},
                         {p.head_dim, "head_dim"}});
  if (st != PTXFMHA_OK) return st;

  const bool vq = attn_varlen_q(p), vk = attn_varlen_k(p), paged = attn_paged(p);
  st = check_lengths(vq, "cu_seqlens_q", p.batch, p.seqlen_q, "seqlen_q", p.max_seqlen_q,
                     "max_seqlen_q", p.total_q, "total_q");
  if (st != PTXFMHA_OK) return st;
  if (vk && paged)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "cu_seqlens_k and block_table are both set: paged K/V takes its lengths from "
                "seqused_k (or seqlen_k), pass cu_seqlens_k = NULL");
  st = check_lengths(vk, "cu_seqlens_k", p.batch, p.seqlen_k, "seqlen_k", p.max_seqlen_k,
                     "max_seqlen_k", p.total_k, "total_k");
  if (st != PTXFMHA_OK) return st;

  if (paged) {
    if (!is_pow2(p.page_size) || p.page_size < kMinPageSize || p.page_size > kMaxPageSize)
      return fail(PTXFMHA_ERR_INVALID_PAGE_TABLE, "page_size = %d must be a power of two in [%d, %d]",
                  p.page_size, kMinPageSize, kMaxPageSize);
    if (p.max_blocks_per_seq < 1)
      return fail(PTXFMHA_ERR_INVALID_PAGE_TABLE, "max_blocks_per_seq = %d must be >= 1",
                  p.max_blocks_per_seq);
    if (p.num_pages < 1)
      return fail(PTXFMHA_ERR_INVALID_PAGE_TABLE, "num_pages = %d must be >= 1", p.num_pages);
    if (int64_t(p.max_blocks_per_seq) * p.page_size < p.seqlen_k)
      return fail(PTXFMHA_ERR_INVALID_PAGE_TABLE,
                  "max_blocks_per_seq * page_size = %d * %d = %" PRId64
                  " tokens of pages are fewer than seqlen_k = %d keys",
                  p.max_blocks_per_seq, p.page_size, int64_t(p.max_blocks_per_seq) * p.page_size,
                  p.seqlen_k);
  } else {
    const NamedSize unused[] = {{p.page_size, "page_size"},
                                {p.max_blocks_per_seq, "max_blocks_per_seq"},
                                {p.num_pages, "num_pages"}};
    for (const NamedSize& u : unused)
      if (u.value != 0)
        return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                    "%s = %d is used only with block_table (paged K/V); it must be 0 here", u.name,
                    u.value);
  }

  if (p.heads_q % p.heads_kv != 0)
    return fail(PTXFMHA_ERR_GQA_RATIO, "heads_q = %d is not a multiple of heads_kv = %d",
                p.heads_q, p.heads_kv);

  const struct {
    const void* ptr;
    const char* name;
    unsigned align;
  } aligned[] = {{p.q, "q", 16},
                 {p.k, "k", 16},
                 {p.v, "v", 16},
                 {p.o, "o", 16},
                 {p.lse, "lse", 16},
                 {p.cu_seqlens_q, "cu_seqlens_q", 4},
                 {p.cu_seqlens_k, "cu_seqlens_k", 4},
                 {p.seqused_k, "seqused_k", 4},
                 {p.block_table, "block_table", 4},
                 {p.sink_logits, "sink_logits", 4},
                 {p.alibi_slopes, "alibi_slopes", 4}};
  for (const auto& e : aligned)
    if (reinterpret_cast<uintptr_t>(e.ptr) % e.align != 0)
      return fail(PTXFMHA_ERR_MISALIGNED_POINTER, "%s = %p is not %u-byte aligned", e.name, e.ptr,
                  e.align);

  if (!std::isfinite(p.softmax_scale) || !(p.softmax_scale > 0.0f))
    return fail(PTXFMHA_ERR_INVALID_SCALE, "softmax_scale = %g must be finite and > 0",
                static_cast<double>(p.softmax_scale));
  if (p.causal != 0 && p.causal != 1)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "causal = %d must be 0 or 1", p.causal);
  st = validate_window_softcap(p.causal, p.window_left, p.window_right, p.softcap);
  if (st != PTXFMHA_OK) return st;

  {
    const ptxfmha_status g = require_grid_yz(p.heads_q, p.batch);
    if (g != PTXFMHA_OK) return g;
  }
  st = check_max_lens({{p.seqlen_q, "seqlen_q"},
                       {p.seqlen_k, "seqlen_k"},
                       {p.max_seqlen_q, "max_seqlen_q"},
                       {p.max_seqlen_k, "max_seqlen_k"},
                       {p.total_q, "total_q"},
                       {p.total_k, "total_k"}});
  if (st != PTXFMHA_OK) return st;
  const int64_t rows = attn_query_rows(p) * p.heads_q;
  if (rows > INT32_MAX)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW,
                vq ? "heads_q * total_q = %d * %" PRId64 " = %" PRId64
                     " query rows exceed 2^31-1 (kernels index O/LSE rows in 32 bits)"
                   : "heads_q * batch * seqlen_q = %d * %" PRId64 " = %" PRId64
                     " query rows exceed 2^31-1 (kernels index O/LSE rows in 32 bits)",
                p.heads_q, attn_query_rows(p), rows);
  if (paged && int64_t(p.batch) * p.max_blocks_per_seq > INT32_MAX)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW,
                "batch * max_blocks_per_seq = %d * %d block-table entries exceed 2^31-1", p.batch,
                p.max_blocks_per_seq);

  st = check_packed_batch_strides({{vq, p.q_batch_stride, "q_batch_stride", "cu_seqlens_q"},
                                   {vk, p.k_batch_stride, "k_batch_stride", "cu_seqlens_k"},
                                   {vk, p.v_batch_stride, "v_batch_stride", "cu_seqlens_k"},
                                   {vq, p.o_batch_stride, "o_batch_stride", "cu_seqlens_q"}});
  if (st != PTXFMHA_OK) return st;

  const bool empty_q = vq && p.total_q == 0, empty_k = vk && p.total_k == 0;
  const TensorView views[4] = {attn_q_view(p), attn_k_view(p), attn_v_view(p), attn_o_view(p)};
  const bool empty[4] = {empty_q, empty_k, empty_k, empty_q};
  std::vector<ByteRange> ranges;
  for (int i = 0; i < 4; ++i) {
    if (!empty[i]) {
      st = validate_tensor(views[i]);
      if (st != PTXFMHA_OK) return st;
    }
    ranges.push_back(view_range(views[i], empty[i]));
  }
  st = array_ranges(p, &ranges);
  if (st != PTXFMHA_OK) return st;
  // ranges: q k v o lse cu_q cu_k seqused table sinks slopes. o (3) against every input,
  // then lse (4) against o and every input, as validate_fwd_shape orders them.
  constexpr std::size_t kO = 3, kLse = 4;
  for (std::size_t i = 0; i < ranges.size(); ++i)
    if (i != kO && i != kLse && overlaps(ranges[kO], ranges[i])) return fail_overlap(ranges[kO], ranges[i]);
  for (std::size_t i = 0; i < ranges.size(); ++i)
    if (i != kLse && overlaps(ranges[kLse], ranges[i])) return fail_overlap(ranges[kLse], ranges[i]);
  return PTXFMHA_OK;
}

ptxfmha_status check_attn_device_ranges(const ptxfmha_attn_params& p) {
  for (const ByteRange& r : attn_byte_ranges(p)) {
    if (r.hi <= r.lo) continue;
    ptxfmha_status st = check_device_range(r.name, r.lo, r.hi);
    if (st != PTXFMHA_OK) return st;
  }
  return PTXFMHA_OK;
}

// ---- decode -----------------------------------------------------------------------------
ptxfmha_decode_params decode_attn_base(const ptxfmha_decode_attn_params& p) {
  ptxfmha_decode_params d;
  std::memset(&d, 0, sizeof d);
  d.q = p.q;
  d.k_cache = p.k_cache;
  d.v_cache = p.v_cache;
  d.o = p.o;
  d.lse = p.lse;
  d.seqlens_k = p.seqlens_k;
  d.block_table = p.block_table;
  d.q_batch_stride = p.q_batch_stride;
  d.q_seq_stride = p.q_seq_stride;
  d.q_head_stride = p.q_head_stride;
  d.k_batch_stride = p.k_batch_stride;
  d.k_seq_stride = p.k_seq_stride;
  d.k_head_stride = p.k_head_stride;
  d.v_batch_stride = p.v_batch_stride;
  d.v_seq_stride = p.v_seq_stride;
  d.v_head_stride = p.v_head_stride;
  d.o_batch_stride = p.o_batch_stride;
  d.o_seq_stride = p.o_seq_stride;
  d.o_head_stride = p.o_head_stride;
  d.batch = p.batch;
  d.seqlen_q = p.seqlen_q;
  d.max_seqlen_k = p.max_seqlen_k;
  d.heads_q = p.heads_q;
  d.heads_kv = p.heads_kv;
  d.head_dim = p.head_dim;
  d.page_size = p.page_size;
  d.max_blocks_per_seq = p.max_blocks_per_seq;
  d.num_pages = p.num_pages;
  d.softmax_scale = p.softmax_scale;
  d.causal = p.causal;
  d.num_splits = p.num_splits;
  d.workspace = p.workspace;
  d.workspace_bytes = p.workspace_bytes;
  d.stream = p.stream;
  return d;
}

std::vector<ByteRange> decode_attn_feature_ranges(const ptxfmha_decode_attn_params& p) {
  const uint64_t bytes = uint64_t(p.heads_q > 0 ? p.heads_q : 0) * 4;
  auto range = [&](const char* name, const void* ptr) {
    const uint64_t lo = reinterpret_cast<uintptr_t>(ptr);
    return ByteRange{name, lo, ptr != nullptr && lo <= UINT64_MAX - bytes ? lo + bytes : lo};
  };
  return {range("sink_logits", p.sink_logits), range("alibi_slopes", p.alibi_slopes)};
}

std::vector<ByteRange> decode_attn_byte_ranges(const ptxfmha_decode_attn_params& p) {
  const ptxfmha_decode_params base = decode_attn_base(p);
  const int kv_bytes = decode_attn_kv_bytes(p);
  const TensorView views[4] = {decode_q_view(base), decode_k_view(base, kv_bytes),
                               decode_v_view(base, kv_bytes), decode_o_view(base)};
  const char* names[4] = {"q", "k_cache", "v_cache", "o"};
  std::vector<ByteRange> r;
  for (int i = 0; i < 4; ++i) {
    ByteRange v = view_range(views[i], false);
    v.name = names[i];
    r.push_back(v);
  }
  auto array = [](const char* name, const void* ptr, uint64_t bytes) {
    const uint64_t lo = reinterpret_cast<uintptr_t>(ptr);
    return ByteRange{name, lo, ptr != nullptr ? lo + bytes : lo};
  };
  r.push_back(array("lse", p.lse, uint64_t(p.batch) * p.heads_q * p.seqlen_q * 4));
  r.push_back(array("seqlens_k", p.seqlens_k, uint64_t(p.batch) * 4));
  r.push_back(array("block_table", p.block_table,
                    p.block_table ? uint64_t(p.batch) * uint64_t(p.max_blocks_per_seq) * 4 : 0));
  for (const ByteRange& f : decode_attn_feature_ranges(p)) r.push_back(f);
  return r;
}

ptxfmha_status validate_decode_attn_shape(const ptxfmha_decode_attn_params& p) {
  const ptxfmha_decode_params base = decode_attn_base(p);
  ptxfmha_status st = validate_decode_shape(&base, decode_attn_kv_bytes(p));
  if (st != PTXFMHA_OK) return st;
  if (p.reserved != 0)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "reserved = %d must be 0", p.reserved);
  const struct {
    const void* ptr;
    const char* name;
  } aligned[] = {{p.sink_logits, "sink_logits"}, {p.alibi_slopes, "alibi_slopes"}};
  for (const auto& e : aligned)
    if (reinterpret_cast<uintptr_t>(e.ptr) % 4 != 0)
      return fail(PTXFMHA_ERR_MISALIGNED_POINTER, "%s = %p is not 4-byte aligned", e.name, e.ptr);
  st = validate_window_softcap(p.causal, p.window_left, p.window_right, p.softcap);
  if (st != PTXFMHA_OK) return st;

  const std::vector<ByteRange> feats = decode_attn_feature_ranges(p);
  for (const ByteRange& f : feats)
    if (f.hi == f.lo && reinterpret_cast<const void*>(f.lo) != nullptr)
      return fail(PTXFMHA_ERR_SIZE_OVERFLOW, "%s = 0x%" PRIx64 " plus its extent overflows the address space",
                  f.name, f.lo);
  ByteRange o{"o", 0, 0};
  tensor_byte_extent(decode_o_view(base), &o.lo, &o.hi);  // validated above
  const uint64_t lse_lo = reinterpret_cast<uintptr_t>(p.lse);
  const ByteRange lse{"lse", lse_lo,
                      p.lse ? lse_lo + uint64_t(p.batch) * p.heads_q * p.seqlen_q * 4 : lse_lo};
  for (const ByteRange& out : {o, lse})
    for (const ByteRange& f : feats)
      if (overlaps(out, f)) return fail_overlap(out, f);
  return PTXFMHA_OK;
}

}  // namespace ptxfmha
