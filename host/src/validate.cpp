// Argument validation before any device use. See validate.h.
#include "validate.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdint>

#include "runtime.h"

namespace ptxfmha {

namespace {

using u128 = unsigned __int128;

constexpr uint64_t kTmaMaxStrideBytes = uint64_t(1) << 40;  // globalStrides[i] < 2^40
constexpr int kStrideAlignBytes = 16;                       // TMA: strides multiple of 16 B

const char* const kDimName[3] = {"batch", "seq", "head"};

bool extent(const TensorView& t, uint64_t* lo, uint64_t* hi) {
  u128 span = static_cast<u128>(t.dims[3]);
  for (int i = 0; i < 3; ++i) {
    if (t.dims[i] > 1) span += static_cast<u128>(t.dims[i] - 1) * static_cast<u128>(t.strides[i]);
  }
  u128 bytes = span * static_cast<u128>(t.elem_bytes);
  u128 base = static_cast<u128>(reinterpret_cast<uintptr_t>(t.ptr));
  if (bytes > static_cast<u128>(INT64_MAX) || base + bytes > static_cast<u128>(UINT64_MAX))
    return false;
  *lo = static_cast<uint64_t>(base);
  *hi = static_cast<uint64_t>(base + bytes);
  return true;
}

bool overlaps(uint64_t a_lo, uint64_t a_hi, uint64_t b_lo, uint64_t b_hi) {
  return a_lo < b_hi && b_lo < a_hi;
}

}  // namespace

bool tensor_byte_extent(const TensorView& t, uint64_t* lo, uint64_t* hi) {
  return extent(t, lo, hi);
}

bool tensor_rows_disjoint(const TensorView& t, int* bad_dim) {
  int order[3];
  int n = 0;
  for (int i = 0; i < 3; ++i)
    if (t.dims[i] > 1) order[n++] = i;
  // Ascending stride; ties keep batch < seq < head order (the failure then names the
  // later, slower-by-convention dim).
  std::stable_sort(order, order + n, [&](int a, int b) { return t.strides[a] < t.strides[b]; });
  u128 span = static_cast<u128>(t.dims[3]);
  for (int k = 0; k < n; ++k) {
    int i = order[k];
    if (t.strides[i] < 0 || static_cast<u128>(t.strides[i]) < span) {
      if (bad_dim) *bad_dim = i;
      return false;
    }
    span += static_cast<u128>(t.dims[i] - 1) * static_cast<u128>(t.strides[i]);
  }
  return true;
}

ptxfmha_status validate_tensor(const TensorView& t) {
  for (int i = 0; i < 3; ++i) {
    if (t.dims[i] <= 1) continue;  // stride never used
    int64_t s = t.strides[i];
    if (s < 0)
      return fail(PTXFMHA_ERR_INVALID_STRIDE, "%s_%s_stride = %" PRId64 " is negative", t.name,
                  kDimName[i], s);
    if ((static_cast<u128>(s) * t.elem_bytes) % kStrideAlignBytes != 0)
      return fail(PTXFMHA_ERR_INVALID_STRIDE,
                  "%s_%s_stride = %" PRId64 " elements is not a multiple of %d elements "
                  "(TMA needs strides in multiples of 16 bytes)",
                  t.name, kDimName[i], s, kStrideAlignBytes / t.elem_bytes);
  }
  for (int i = 0; i < 3; ++i) {
    if (t.dims[i] <= 1) continue;
    if (static_cast<u128>(t.strides[i]) * t.elem_bytes >= kTmaMaxStrideBytes)
      return fail(PTXFMHA_ERR_SIZE_OVERFLOW,
                  "%s_%s_stride = %" PRId64 " elements is %s 2^40 bytes, the TMA stride limit",
                  t.name, kDimName[i], t.strides[i], "at least");
  }
  uint64_t lo = 0, hi = 0;
  if (!extent(t, &lo, &hi))
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW,
                "%s: extent of [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                "] with strides (%" PRId64 ", %" PRId64 ", %" PRId64
                ") overflows 64-bit byte offsets from %s = %p",
                t.name, t.dims[0], t.dims[1], t.dims[2], t.dims[3], t.strides[0], t.strides[1],
                t.strides[2], t.name, t.ptr);
  int bad = 0;
  if (!tensor_rows_disjoint(t, &bad))
    return fail(PTXFMHA_ERR_INVALID_STRIDE,
                "%s_%s_stride = %" PRId64 " makes rows of %s overlap (strides batch/seq/head = "
                "%" PRId64 "/%" PRId64 "/%" PRId64 " for sizes [%" PRId64 ", %" PRId64 ", %" PRId64
                "], head_dim %" PRId64 "; each stride must cover the span of the faster dims)",
                t.name, kDimName[bad], t.strides[bad], t.name, t.strides[0], t.strides[1],
                t.strides[2], t.dims[0], t.dims[1], t.dims[2], t.dims[3]);
  return PTXFMHA_OK;
}

TensorView fwd_q_view(const ptxfmha_fwd_params& p) {
  return {"q", p.q, {p.batch, p.seqlen_q, p.heads_q, p.head_dim},
          {p.q_batch_stride, p.q_seq_stride, p.q_head_stride}, 2};
}
TensorView fwd_k_view(const ptxfmha_fwd_params& p) {
  return {"k", p.k, {p.batch, p.seqlen_k, p.heads_kv, p.head_dim},
          {p.k_batch_stride, p.k_seq_stride, p.k_head_stride}, 2};
}
TensorView fwd_v_view(const ptxfmha_fwd_params& p) {
  return {"v", p.v, {p.batch, p.seqlen_k, p.heads_kv, p.head_dim},
          {p.v_batch_stride, p.v_seq_stride, p.v_head_stride}, 2};
}
TensorView fwd_o_view(const ptxfmha_fwd_params& p) {
  return {"o", p.o, {p.batch, p.seqlen_q, p.heads_q, p.head_dim},
          {p.o_batch_stride, p.o_seq_stride, p.o_head_stride}, 2};
}

ptxfmha_status require_non_null(std::initializer_list<NamedPtr> ptrs) {
  for (const NamedPtr& e : ptrs)
    if (e.ptr == nullptr) return fail(PTXFMHA_ERR_NULL_POINTER, "%s is NULL", e.name);
  return PTXFMHA_OK;
}

ptxfmha_status require_positive(std::initializer_list<NamedSize> sizes) {
  for (const NamedSize& e : sizes)
    if (e.value <= 0) return fail(PTXFMHA_ERR_INVALID_SIZE, "%s = %d must be > 0", e.name, e.value);
  return PTXFMHA_OK;
}

ptxfmha_status require_grid_yz(int32_t heads_q, int32_t batch) {
  if (heads_q > kMaxGridYZ)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW, "heads_q = %d exceeds %d (grid y dimension)", heads_q,
                static_cast<int>(kMaxGridYZ));
  if (batch > kMaxGridYZ)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW, "batch = %d exceeds %d (grid z dimension)", batch,
                static_cast<int>(kMaxGridYZ));
  return PTXFMHA_OK;
}

ptxfmha_status validate_fwd_shape(const ptxfmha_fwd_params* p) {
  if (p == nullptr) return fail(PTXFMHA_ERR_NULL_POINTER, "params is NULL");
  ptxfmha_status st = require_non_null({{p->q, "q"}, {p->k, "k"}, {p->v, "v"}, {p->o, "o"}});
  if (st != PTXFMHA_OK) return st;
  st = require_positive({{p->batch, "batch"}, {p->seqlen_q, "seqlen_q"}, {p->seqlen_k, "seqlen_k"},
                         {p->heads_q, "heads_q"}, {p->heads_kv, "heads_kv"}, {p->head_dim, "head_dim"}});
  if (st != PTXFMHA_OK) return st;

  if (p->heads_q % p->heads_kv != 0)
    return fail(PTXFMHA_ERR_GQA_RATIO, "heads_q = %d is not a multiple of heads_kv = %d",
                p->heads_q, p->heads_kv);

  const struct {
    const void* ptr;
    const char* name;
  } aligned[] = {{p->q, "q"}, {p->k, "k"}, {p->v, "v"}, {p->o, "o"}, {p->lse, "lse"}};
  for (const auto& e : aligned)
    if (reinterpret_cast<uintptr_t>(e.ptr) % 16 != 0)
      return fail(PTXFMHA_ERR_MISALIGNED_POINTER, "%s = %p is not 16-byte aligned", e.name, e.ptr);

  if (!std::isfinite(p->softmax_scale) || !(p->softmax_scale > 0.0f))
    return fail(PTXFMHA_ERR_INVALID_SCALE, "softmax_scale = %g must be finite and > 0",
                static_cast<double>(p->softmax_scale));
  if (p->causal != 0 && p->causal != 1)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "causal = %d must be 0 or 1", p->causal);

  st = require_grid_yz(p->heads_q, p->batch);
  if (st != PTXFMHA_OK) return st;
  const int64_t rows_q = int64_t(p->batch) * p->heads_q * p->seqlen_q;
  if (rows_q > INT32_MAX)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW,
                "batch * heads_q * seqlen_q = %d * %d * %d = %" PRId64
                " query rows exceed 2^31-1 (kernels index O/LSE rows in 32 bits)",
                p->batch, p->heads_q, p->seqlen_q, rows_q);

  const TensorView views[4] = {fwd_q_view(*p), fwd_k_view(*p), fwd_v_view(*p), fwd_o_view(*p)};
  uint64_t lo[4], hi[4];
  for (int i = 0; i < 4; ++i) {
    ptxfmha_status st = validate_tensor(views[i]);
    if (st != PTXFMHA_OK) return st;
    extent(views[i], &lo[i], &hi[i]);  // validate_tensor checked it fits
  }
  for (int i = 0; i < 3; ++i) {
    if (overlaps(lo[3], hi[3], lo[i], hi[i]))
      return fail(PTXFMHA_ERR_ALIASING,
                  "o (bytes [0x%" PRIx64 ", 0x%" PRIx64 ")) overlaps %s (bytes [0x%" PRIx64
                  ", 0x%" PRIx64 "))",
                  lo[3], hi[3], views[i].name, lo[i], hi[i]);
  }
  if (p->lse != nullptr) {
    const uint64_t lse_lo = reinterpret_cast<uintptr_t>(p->lse);
    const uint64_t lse_bytes = static_cast<uint64_t>(rows_q) * sizeof(float);
    if (lse_lo > UINT64_MAX - lse_bytes)
      return fail(PTXFMHA_ERR_SIZE_OVERFLOW, "lse = %p plus %" PRIu64 " bytes overflows the address space",
                  static_cast<const void*>(p->lse), lse_bytes);
    const uint64_t lse_hi = lse_lo + lse_bytes;
    if (overlaps(lse_lo, lse_hi, lo[3], hi[3]))
      return fail(PTXFMHA_ERR_ALIASING,
                  "lse (bytes [0x%" PRIx64 ", 0x%" PRIx64 ")) overlaps o (bytes [0x%" PRIx64
                  ", 0x%" PRIx64 "))",
                  lse_lo, lse_hi, lo[3], hi[3]);
    for (int i = 0; i < 3; ++i) {
      if (overlaps(lse_lo, lse_hi, lo[i], hi[i]))
        return fail(PTXFMHA_ERR_ALIASING,
                    "lse (bytes [0x%" PRIx64 ", 0x%" PRIx64 ")) overlaps %s (bytes [0x%" PRIx64
                    ", 0x%" PRIx64 "))",
                    lse_lo, lse_hi, views[i].name, lo[i], hi[i]);
    }
  }
  return PTXFMHA_OK;
}

ptxfmha_status validate_fwd_head_dim(const ptxfmha_fwd_params& p, int sm) {
  if (find_kernel(sm, KernelKind::Fwd, p.head_dim) != nullptr) return PTXFMHA_OK;
  const char* arch = sm >= 10 ? arch_for_cc(sm / 10, sm % 10) : nullptr;
  return fail(PTXFMHA_ERR_UNSUPPORTED_HEAD_DIM,
              "head_dim = %d has no forward kernel for sm_%d (%s); supported head_dim: %s",
              p.head_dim, sm, arch ? arch : "no kernels for this architecture",
              head_dims_string(supported_head_dims(sm, KernelKind::Fwd)).c_str());
}

}  // namespace ptxfmha
