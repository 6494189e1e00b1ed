// ptxfmha_bwd, ptxfmha_bwd_workspace_size, ptxfmha_bwd_params_init. See bwd.h for the flow
// and the list of checks, ptx/body/sm90_bwd/ for the kernels.
#include "bwd.h"

#include <cinttypes>
#include <cmath>
#include <cstring>
#include <exception>
#include <new>
#include <vector>

#include "attn.h"
#include "attn_kernel_abi.h"
#include "bwd_abi.h"
#include "runtime.h"
#include "validate_attn.h"

namespace ptxfmha {

namespace {

using u128 = unsigned __int128;

constexpr double kLog2e = 1.4426950408889634;
constexpr uint64_t kMaxStructBytes = 64 * 1024;
constexpr unsigned kBoxColsElems = 64;  // 128-byte swizzle span of bf16

using Range = ByteRange;  // validate_attn.h

// Empty ranges (absent arrays, packed tensors of 0 rows) overlap nothing.
bool overlaps(const Range& a, const Range& b) { return a.lo < a.hi && b.lo < b.hi && a.lo < b.hi && b.lo < a.hi; }

// A packed tensor with no rows (varlen, total 0) covers no bytes.
bool empty_view(const TensorView& t) { return t.dims[1] == 0; }

Range view_range(const TensorView& t) {
  Range r{t.name, 0, 0};
  if (empty_view(t)) {
    r.lo = r.hi = reinterpret_cast<uintptr_t>(t.ptr);
    return r;
  }
  tensor_byte_extent(t, &r.lo, &r.hi);  // callers validated the view first
  return r;
}

// An int32 metadata array of n entries (cu_seqlens_*: batch + 1, seqused_k: batch); NULL: none.
Range meta_range(const char* name, const int32_t* a, int64_t n) {
  const uint64_t lo = reinterpret_cast<uintptr_t>(a);
  return {name, lo, a == nullptr ? lo : lo + uint64_t(n) * sizeof(int32_t)};
}



// A per-head fp32 array (ALiBi slopes, sink logits, d_sink): heads_q floats.
Range heads_range(const char* name, const float* a, const ptxfmha_bwd_params& p) {
  const uint64_t lo = reinterpret_cast<uintptr_t>(a);
  return {name, lo, lo + uint64_t(p.heads_q) * sizeof(float)};
}

// LSE: [batch, heads_q, seqlen_q], or [heads_q, total_q] with packed Q.
Range lse_range(const ptxfmha_bwd_params& p) {
  const uint64_t lo = reinterpret_cast<uintptr_t>(p.lse);
  const uint64_t rows = bwd_varlen_q(p) ? uint64_t(p.total_q) : uint64_t(p.batch) * uint64_t(p.seqlen_q);
  return {"lse", lo, lo + rows * uint64_t(p.heads_q) * sizeof(float)};
}

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

ptxfmha_status fail_overlap(const Range& a, const Range& b) {
  return fail(PTXFMHA_ERR_ALIASING,
              "%s (bytes [0x%" PRIx64 ", 0x%" PRIx64 ")) overlaps %s (bytes [0x%" PRIx64 ", 0x%" PRIx64 "))",
              a.name, a.lo, a.hi, b.name, b.lo, b.hi);
}

}  // namespace

bool bwd_workspace_layout(int64_t batch, int64_t heads_q, int64_t seqlen_q, int64_t head_dim,
                          BwdWorkspaceLayout* out) {
  if (batch < 0 || heads_q < 0 || seqlen_q < 0 || head_dim < 0) return false;
  return bwd_workspace_layout_rows(u128(batch) * u128(heads_q) * u128(round_up(seqlen_q, kBwdRowPad)),
                                   head_dim, out);
}

bool bwd_workspace_layout_varlen(int64_t batch, int64_t heads_q, int64_t total_q, int64_t head_dim,
                                 BwdWorkspaceLayout* out) {
  if (batch < 0 || heads_q < 0 || total_q < 0 || head_dim < 0) return false;
  return bwd_workspace_layout_rows(u128(heads_q) * u128(round_up(total_q + kBwdRowPad * batch, kBwdRowPad)),
                                   head_dim, out);
}

bool bwd_workspace_layout_rows(unsigned __int128 rows, int64_t head_dim, BwdWorkspaceLayout* out) {
  if (head_dim < 0 || rows > u128(INT64_MAX)) return false;
  auto align = [](u128 x) { return (x + kBwdWsAlignBytes - 1) / kBwdWsAlignBytes * kBwdWsAlignBytes; };
  u128 off = 0;
  const u128 dq = 0;
  off = align(off + rows * u128(head_dim) * 4);
  const u128 nlse = off;
  off = align(off + rows * 4);
  const u128 dsum = off;
  off = align(off + rows * 4);
  const u128 sem = off;
  off = align(off + rows / 64 * 4);
  if (off > u128(INT64_MAX)) return false;
  out->dq_acc = uint64_t(dq);
  out->nlse = uint64_t(nlse);
  out->dsum = uint64_t(dsum);
  out->sem = uint64_t(sem);
  out->bytes = uint64_t(off);
  return true;
}

std::vector<ByteRange> bwd_meta_ranges(const ptxfmha_bwd_params& p) {
  return {meta_range("cu_seqlens_q", p.cu_seqlens_q, int64_t(p.batch) + 1),
          meta_range("cu_seqlens_k", p.cu_seqlens_k, int64_t(p.batch) + 1),
          meta_range("seqused_k", p.seqused_k, p.batch)};
}

bool bwd_varlen_q(const ptxfmha_bwd_params& p) { return p.cu_seqlens_q != nullptr; }
bool bwd_varlen_k(const ptxfmha_bwd_params& p) { return p.cu_seqlens_k != nullptr; }
int32_t bwd_max_len_q(const ptxfmha_bwd_params& p) { return bwd_varlen_q(p) ? p.max_seqlen_q : p.seqlen_q; }
int32_t bwd_max_len_k(const ptxfmha_bwd_params& p) { return bwd_varlen_k(p) ? p.max_seqlen_k : p.seqlen_k; }

namespace {
// Q-side tensors (Q, O, dO, dQ): [batch, seqlen_q, heads_q, D], or packed [1, total_q,
// heads_q, D] (batch stride 0); K-side (K, V, dK, dV) the same with seqlen_k / total_k.
TensorView q_side(const ptxfmha_bwd_params& p, const char* name, const void* ptr, int64_t bs, int64_t ss,
                  int64_t hs) {
  if (bwd_varlen_q(p)) return {name, ptr, {1, p.total_q, p.heads_q, p.head_dim}, {0, ss, hs}, 2};
  return {name, ptr, {p.batch, p.seqlen_q, p.heads_q, p.head_dim}, {bs, ss, hs}, 2};
}
TensorView k_side(const ptxfmha_bwd_params& p, const char* name, const void* ptr, int64_t bs, int64_t ss,
                  int64_t hs) {
  if (bwd_varlen_k(p)) return {name, ptr, {1, p.total_k, p.heads_kv, p.head_dim}, {0, ss, hs}, 2};
  return {name, ptr, {p.batch, p.seqlen_k, p.heads_kv, p.head_dim}, {bs, ss, hs}, 2};
}
}  // namespace

TensorView bwd_q_view(const ptxfmha_bwd_params& p) {
  return q_side(p, "q", p.q, p.q_batch_stride, p.q_seq_stride, p.q_head_stride);
}
TensorView bwd_k_view(const ptxfmha_bwd_params& p) {
  return k_side(p, "k", p.k, p.k_batch_stride, p.k_seq_stride, p.k_head_stride);
}
TensorView bwd_v_view(const ptxfmha_bwd_params& p) {
  return k_side(p, "v", p.v, p.v_batch_stride, p.v_seq_stride, p.v_head_stride);
}
TensorView bwd_o_view(const ptxfmha_bwd_params& p) {
  return q_side(p, "o", p.o, p.o_batch_stride, p.o_seq_stride, p.o_head_stride);
}
TensorView bwd_dout_view(const ptxfmha_bwd_params& p) {
  return q_side(p, "dout", p.dout, p.dout_batch_stride, p.dout_seq_stride, p.dout_head_stride);
}
TensorView bwd_dq_view(const ptxfmha_bwd_params& p) {
  return q_side(p, "dq", p.dq, p.dq_batch_stride, p.dq_seq_stride, p.dq_head_stride);
}
TensorView bwd_dk_view(const ptxfmha_bwd_params& p) {
  return k_side(p, "dk", p.dk, p.dk_batch_stride, p.dk_seq_stride, p.dk_head_stride);
}
TensorView bwd_dv_view(const ptxfmha_bwd_params& p) {
  return k_side(p, "dv", p.dv, p.dv_batch_stride, p.dv_seq_stride, p.dv_head_stride);
}

bool bwd_workspace_layout(const ptxfmha_bwd_params& p, BwdWorkspaceLayout* out) {
  if (bwd_varlen_q(p)) return bwd_workspace_layout_varlen(p.batch, p.heads_q, p.total_q, p.head_dim, out);
  return bwd_workspace_layout(p.batch, p.heads_q, p.seqlen_q, p.head_dim, out);
}

float bwd_effective_scale(const ptxfmha_bwd_params& p) {
  if (p.softmax_scale != 0.0f) return p.softmax_scale;
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(p.head_dim)));
}

void bwd_params_defaults(ptxfmha_bwd_params* p) {
  std::memset(p, 0, sizeof *p);
  p->struct_size = sizeof *p;
  p->window_left = -1;
  p->window_right = -1;
}

ptxfmha_status read_bwd_params(const ptxfmha_bwd_params* p, ptxfmha_bwd_params* out) {
  if (p == nullptr) return fail(PTXFMHA_ERR_NULL_POINTER, "params is NULL");
  const uint64_t n = p->struct_size;
  if (n < PTXFMHA_BWD_PARAMS_SIZE_V1)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "struct_size = %" PRIu64 " is smaller than %u, the size of the first version of "
                "ptxfmha_bwd_params (call ptxfmha_bwd_params_init before filling in the fields)",
                n, PTXFMHA_BWD_PARAMS_SIZE_V1);
  if (n > kMaxStructBytes)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "struct_size = %" PRIu64 " exceeds %" PRIu64 " bytes (not a ptxfmha_bwd_params)", n,
                kMaxStructBytes);
  // A caller built against a newer header: the fields this library does not know must be
  // at their defaults (zero).
  const unsigned char* bytes = reinterpret_cast<const unsigned char*>(p);
  for (uint64_t i = sizeof(ptxfmha_bwd_params); i < n; ++i)
    if (bytes[i] != 0)
      return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                  "struct_size = %" PRIu64 ": byte %" PRIu64
                  " lies past the fields this library knows (%zu bytes) and is not zero",
                  n, i, sizeof(ptxfmha_bwd_params));
  // An older (smaller) block: its prefix, the defaults for the rest.
  bwd_params_defaults(out);
  std::memcpy(out, p, n < sizeof(ptxfmha_bwd_params) ? std::size_t(n) : sizeof(ptxfmha_bwd_params));
  out->struct_size = sizeof(ptxfmha_bwd_params);
  return PTXFMHA_OK;
}

uint32_t bwd_features(const ptxfmha_bwd_params& p) {
  uint32_t f = 0;
  if (bwd_varlen_q(p)) f |= kAttnVarlenQ;
  if (bwd_varlen_k(p)) f |= kAttnVarlenK;
  if (p.seqused_k != nullptr) f |= kAttnSequsedK;
  if (canonical_window(p.causal, p.window_left, p.window_right, bwd_max_len_q(p), bwd_max_len_k(p)).is_feature())
    f |= kAttnWindow;
  if (p.softcap > 0.0f) f |= kAttnSoftcap;
  if (p.alibi_slopes != nullptr) f |= kAttnAlibi;
  if (p.sink_logits != nullptr) f |= kAttnSinks;
  return f;
}

bool bwd_rotate_walk(bool plain_row, bool causal, int64_t num_n_blocks, int64_t num_m_blocks, int num_sms,
                     bool turned_off) {
  if (turned_off) return false;
  return plain_row && !causal && num_n_blocks >= 1 && num_n_blocks <= num_m_blocks && num_n_blocks <= num_sms;
}

ptxfmha_status validate_bwd_shape(const ptxfmha_bwd_params& p) {
  ptxfmha_status st = require_non_null({{p.q, "q"},
                                        {p.k, "k"},
                                        {p.v, "v"},
                                        {p.o, "o"},
                                        {p.dout, "dout"},
                                        {p.lse, "lse"},
                                        {p.dq, "dq"},
                                        {p.dk, "dk"},
                                        {p.dv, "dv"}});
  if (st != PTXFMHA_OK) return st;
  st = require_positive({{p.batch, "batch"}, {p.heads_q, "heads_q"}, {p.heads_kv, "heads_kv"},
                         {p.head_dim, "head_dim"}});
  if (st != PTXFMHA_OK) return st;
  // Lengths, fixed or packed (validate_attn.h: ptxfmha_attn_params' rules).
  const bool vq = bwd_varlen_q(p), vk = bwd_varlen_k(p);
  st = check_lengths(vq, "cu_seqlens_q", p.batch, p.seqlen_q, "seqlen_q", p.max_seqlen_q, "max_seqlen_q",
                     p.total_q, "total_q");
  if (st != PTXFMHA_OK) return st;
  st = check_lengths(vk, "cu_seqlens_k", p.batch, p.seqlen_k, "seqlen_k", p.max_seqlen_k, "max_seqlen_k",
                     p.total_k, "total_k");
  if (st != PTXFMHA_OK) return st;
  if (p.heads_q % p.heads_kv != 0)
    return fail(PTXFMHA_ERR_GQA_RATIO, "heads_q = %d is not a multiple of heads_kv = %d", p.heads_q,
                p.heads_kv);

  const struct {
    const void* ptr;
    const char* name;
    unsigned align;
  } aligned[] = {{p.q, "q", 16},       {p.k, "k", 16},   {p.v, "v", 16},   {p.o, "o", 16},
                 {p.dout, "dout", 16}, {p.dq, "dq", 16}, {p.dk, "dk", 16}, {p.dv, "dv", 16},
                 {p.lse, "lse", 4}};
  for (const auto& e : aligned)
    if (reinterpret_cast<uintptr_t>(e.ptr) % e.align != 0)
      return fail(PTXFMHA_ERR_MISALIGNED_POINTER, "%s = %p is not %u-byte aligned", e.name, e.ptr,
                  e.align);

  if (!std::isfinite(p.softmax_scale) || p.softmax_scale < 0.0f)
    return fail(PTXFMHA_ERR_INVALID_SCALE,
                "softmax_scale = %g must be finite and > 0 (or 0 for 1/sqrt(head_dim))",
                static_cast<double>(p.softmax_scale));
  if (p.causal != 0 && p.causal != 1)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "causal = %d must be 0 or 1", p.causal);
  if (p.deterministic != 0 && p.deterministic != 1)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "deterministic = %d must be 0 or 1", p.deterministic);
  if (p.reserved0 != 0)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "reserved0 = %d must be 0", p.reserved0);
  // The serving features (version 2 of the block).
  st = validate_window_softcap(p.causal, p.window_left, p.window_right, p.softcap);
  if (st != PTXFMHA_OK) return st;
  if (p.reserved1 != 0)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "reserved1 = %d must be 0", p.reserved1);
  {
    const struct {
      const void* ptr;
      const char* name;
    } arrays[] = {{p.alibi_slopes, "alibi_slopes"}, {p.sink_logits, "sink_logits"}, {p.d_sink, "d_sink"},
                  {p.cu_seqlens_q, "cu_seqlens_q"},   {p.cu_seqlens_k, "cu_seqlens_k"}, {p.seqused_k, "seqused_k"}};
    for (const auto& a : arrays)
      if (reinterpret_cast<uintptr_t>(a.ptr) % 4 != 0)
        return fail(PTXFMHA_ERR_MISALIGNED_POINTER, "%s = %p is not 4-byte aligned", a.name, a.ptr);
  }
  if (p.d_sink != nullptr && p.sink_logits == nullptr)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "d_sink is set but sink_logits is NULL (d_sink is the gradient of the sink logits)");

  {
    const ptxfmha_status g = require_grid_yz(p.heads_q, p.batch);
    if (g != PTXFMHA_OK) return g;
  }
  st = check_max_lens({{p.max_seqlen_q, "max_seqlen_q"},
                       {p.max_seqlen_k, "max_seqlen_k"},
                       {p.total_q, "total_q"},
                       {p.total_k, "total_k"}});
  if (st != PTXFMHA_OK) return st;
  if (vq) {  // workspace rows and packed LSE rows, indexed in 32 bits
    const int64_t rows_q = int64_t(p.heads_q) * round_up(int64_t(p.total_q) + int64_t(kBwdRowPad) * p.batch, kBwdRowPad);
    if (rows_q > INT32_MAX)
      return fail(PTXFMHA_ERR_SIZE_OVERFLOW,
                  "heads_q * round_up(total_q + %d * batch, %d) = %d * %" PRId64 " = %" PRId64
                  " workspace rows exceed 2^31-1 (the backward kernels index rows in 32 bits)",
                  kBwdRowPad, kBwdRowPad, p.heads_q, rows_q / p.heads_q, rows_q);
  } else {
    const int64_t rows_q = int64_t(p.batch) * p.heads_q * round_up(p.seqlen_q, kBwdRowPad);
    if (rows_q > INT32_MAX)
      return fail(PTXFMHA_ERR_SIZE_OVERFLOW,
                  "batch * heads_q * round_up(seqlen_q, %d) = %d * %d * %" PRId64 " = %" PRId64
                  " query rows exceed 2^31-1 (the backward kernels index rows in 32 bits)",
                  kBwdRowPad, p.batch, p.heads_q, round_up(p.seqlen_q, kBwdRowPad), rows_q);
  }
  const int64_t rows_k = vk ? int64_t(p.heads_kv) * p.total_k : int64_t(p.batch) * p.heads_kv * p.seqlen_k;
  if (rows_k > INT32_MAX && vk)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW, "heads_kv * total_k = %d * %d = %" PRId64 " key rows exceed 2^31-1",
                p.heads_kv, p.total_k, rows_k);
  if (rows_k > INT32_MAX)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW,
                "batch * heads_kv * seqlen_k = %d * %d * %d = %" PRId64 " key rows exceed 2^31-1", p.batch,
                p.heads_kv, p.seqlen_k, rows_k);
  // a packed tensor has no batch dimension
  st = check_packed_batch_strides({{vq, p.q_batch_stride, "q_batch_stride", "cu_seqlens_q"},
                                   {vk, p.k_batch_stride, "k_batch_stride", "cu_seqlens_k"},
                                   {vk, p.v_batch_stride, "v_batch_stride", "cu_seqlens_k"},
                                   {vq, p.o_batch_stride, "o_batch_stride", "cu_seqlens_q"},
                                   {vq, p.dout_batch_stride, "dout_batch_stride", "cu_seqlens_q"},
                                   {vq, p.dq_batch_stride, "dq_batch_stride", "cu_seqlens_q"},
                                   {vk, p.dk_batch_stride, "dk_batch_stride", "cu_seqlens_k"},
                                   {vk, p.dv_batch_stride, "dv_batch_stride", "cu_seqlens_k"}});
  if (st != PTXFMHA_OK) return st;

  const TensorView views[8] = {bwd_q_view(p),    bwd_k_view(p),  bwd_v_view(p),  bwd_o_view(p),
                               bwd_dout_view(p), bwd_dq_view(p), bwd_dk_view(p), bwd_dv_view(p)};
  for (const TensorView& t : views) {
    if (empty_view(t)) continue;  // packed with 0 rows: nothing is read or written
    st = validate_tensor(t);
    if (st != PTXFMHA_OK) return st;
  }
  for (const Range& m : bwd_meta_ranges(p))
    if (m.hi < m.lo)
      return fail(PTXFMHA_ERR_SIZE_OVERFLOW, "%s = 0x%" PRIx64 " plus its extent overflows the address space",
                  m.name, m.lo);
  const Range lse = lse_range(p);
  if (lse.hi < lse.lo)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW, "lse = %p plus its extent overflows the address space",
                static_cast<const void*>(p.lse));
  // Outputs: never overlapping an input or each other (inputs may alias one another); the
  // metadata arrays are inputs too.
  const std::vector<Range> meta = bwd_meta_ranges(p);
  const Range inputs[9] = {view_range(views[0]), view_range(views[1]), view_range(views[2]),
                           view_range(views[3]), view_range(views[4]), lse, meta[0], meta[1], meta[2]};
  const Range outputs[3] = {view_range(views[5]), view_range(views[6]), view_range(views[7])};
  for (int i = 0; i < 3; ++i) {
    for (const Range& in : inputs)
      if (overlaps(outputs[i], in)) return fail_overlap(outputs[i], in);
    for (int j = 0; j < i; ++j)
      if (overlaps(outputs[i], outputs[j])) return fail_overlap(outputs[i], outputs[j]);
  }
  // d_sink (an output too) overlaps no tensor, the LSE or the per-head inputs.
  if (p.d_sink != nullptr) {
    const Range ds = heads_range("d_sink", p.d_sink, p);
    for (const Range& r : inputs)
      if (overlaps(ds, r)) return fail_overlap(ds, r);
    for (const Range& r : outputs)
      if (overlaps(ds, r)) return fail_overlap(ds, r);
    for (const Range& r : {heads_range("sink_logits", p.sink_logits, p), heads_range("alibi_slopes", p.alibi_slopes, p)})
      if (r.lo != 0 && overlaps(ds, r)) return fail_overlap(ds, r);
  }
  return PTXFMHA_OK;
}

ptxfmha_status validate_bwd_workspace(const ptxfmha_bwd_params& p, uint64_t need) {
  if (p.workspace == nullptr)
    return fail(PTXFMHA_ERR_NULL_POINTER,
                "workspace is NULL but this problem needs %" PRIu64
                " bytes (see ptxfmha_bwd_workspace_size)",
                need);
  if (p.workspace_bytes < need)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "workspace_bytes = %" PRIu64 " is less than the %" PRIu64
                " bytes this problem needs (see ptxfmha_bwd_workspace_size)",
                p.workspace_bytes, need);
  const uint64_t lo = reinterpret_cast<uintptr_t>(p.workspace);
  if (lo % 16 != 0)
    return fail(PTXFMHA_ERR_MISALIGNED_POINTER, "workspace = %p is not 16-byte aligned", p.workspace);
  if (lo > UINT64_MAX - need)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW, "workspace = %p plus %" PRIu64 " bytes overflows the address space",
                p.workspace, need);
  const Range ws{"workspace", lo, lo + need};
  const Range all[9] = {view_range(bwd_q_view(p)),    view_range(bwd_k_view(p)),  view_range(bwd_v_view(p)),
                        view_range(bwd_o_view(p)),    view_range(bwd_dout_view(p)), view_range(bwd_dq_view(p)),
                        view_range(bwd_dk_view(p)),   view_range(bwd_dv_view(p)), lse_range(p)};
  for (const Range& r : all)
    if (overlaps(ws, r)) return fail_overlap(ws, r);
  for (const Range& r : bwd_meta_ranges(p))
    if (overlaps(ws, r)) return fail_overlap(ws, r);
  if (p.d_sink != nullptr && overlaps(ws, heads_range("d_sink", p.d_sink, p)))
    return fail_overlap(ws, heads_range("d_sink", p.d_sink, p));
  return PTXFMHA_OK;
}

int64_t bwd_debug_bytes(const KernelInfo& main_row) {
  return 2 * int64_t(main_row.block_n) * main_row.block_m * 2 + int64_t(main_row.block_m) * main_row.head_dim * 4;
}

const KernelInfo* find_bwd_ext_row(int sm, int head_dim, uint32_t features) {
  for (const KernelInfo* r : all_kernels())
    if (r->kind == KernelKind::Bwd && r->sm == sm && r->head_dim == head_dim && r->features != 0 &&
        (r->features & features) == features)
      return r;
  return nullptr;
}

const KernelInfo* find_bwd_dsink_row(int sm) {
  for (const KernelInfo* r : all_kernels())
    if (r->kind == KernelKind::BwdPost && r->sm == sm && r->head_dim == 0) return r;
  return nullptr;
}

const KernelInfo* find_bwd_main_row(const char* name) {
  if (name == nullptr) return nullptr;
  for (const KernelInfo* r : all_kernels())
    if (r->kind == KernelKind::Bwd && std::strcmp(r->name, name) == 0) return r;
  return nullptr;
}

namespace {

ptxfmha_status bwd_impl(const ptxfmha_bwd_params* caller, uint64_t debug, bool launch, uint64_t* ws_out,
                        const KernelInfo* forced_main = nullptr) {
  ptxfmha_bwd_params p;
  ptxfmha_status st = read_bwd_params(caller, &p);
  if (st != PTXFMHA_OK) return st;
  st = validate_bwd_shape(p);
  if (st != PTXFMHA_OK) return st;
  BwdWorkspaceLayout ws;
  if (!bwd_workspace_layout(p, &ws))
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW, "the workspace size overflows 64 bits");
  if (!launch) {
    *ws_out = ws.bytes;
    return PTXFMHA_OK;
  }
  st = validate_bwd_workspace(p, ws.bytes);
  if (st != PTXFMHA_OK) return st;

  DeviceInfo dev;
  st = acquire_device(&dev);
  if (st != PTXFMHA_OK) return st;
  const KernelInfo* pre = find_kernel(dev.sm, KernelKind::BwdPre, p.head_dim);
  const KernelInfo* main = find_kernel(dev.sm, KernelKind::Bwd, p.head_dim);
  const KernelInfo* post = find_kernel(dev.sm, KernelKind::BwdPost, p.head_dim);
  // The main kernel's features: window, softcap, ALiBi (sinks only change the LSE the
  // forward wrote; d_sink is the pre kernel's, see below).
  const uint32_t kernel_features =
      bwd_features(p) & (kAttnWindow | kAttnSoftcap | kAttnAlibi | kAttnVarlenQ | kAttnVarlenK | kAttnSequsedK);
  if (kernel_features != 0 && pre != nullptr) {
    main = find_bwd_ext_row(dev.sm, p.head_dim, kernel_features);
    if (main == nullptr)
      return fail(PTXFMHA_ERR_UNSUPPORTED_FEATURE,
                  "ptxfmha_bwd: %s at head_dim = %d has no backward kernel for sm_%d (%s)",
                  attn_feature_names(kernel_features).c_str(), p.head_dim, dev.sm,
                  dev.arch ? dev.arch : "no kernels for this architecture");
  }
  if (forced_main != nullptr) {  // bwd_with_main_row: a variant of this head dim
    if (forced_main->kind != KernelKind::Bwd || forced_main->head_dim != p.head_dim)
      return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "kernel %s is not a backward main kernel of head_dim = %d",
                  forced_main->name, p.head_dim);
    if (forced_main->sm != dev.sm)
      return fail(PTXFMHA_ERR_UNSUPPORTED_ARCH, "kernel %s is for sm_%d, the device is sm_%d", forced_main->name,
                  forced_main->sm, dev.sm);
    if ((forced_main->features & kernel_features) != kernel_features)
      return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "kernel %s does not implement %s, which this call uses",
                  forced_main->name, attn_feature_names(kernel_features & ~forced_main->features).c_str());
    main = forced_main;
  }
  if (pre == nullptr || main == nullptr || post == nullptr)
    return fail(PTXFMHA_ERR_UNSUPPORTED_HEAD_DIM,
                "head_dim = %d has no backward kernels for sm_%d (%s); supported head_dim: %s", p.head_dim,
                dev.sm, dev.arch ? dev.arch : "no kernels for this architecture",
                head_dims_string(supported_head_dims(dev.sm, KernelKind::Bwd)).c_str());
  for (const KernelInfo* r : {pre, main, post}) {
    if (r->param_bytes != static_cast<int>(sizeof(BwdKernelParams)))
      return fail(PTXFMHA_ERR_CUBIN_INVALID,
                  "kernel table row %s declares a %d-byte parameter block, the host ABI is %zu bytes", r->name,
                  r->param_bytes, sizeof(BwdKernelParams));
    if (r->block_m != main->block_m)
      return fail(PTXFMHA_ERR_CUBIN_INVALID, "kernel table rows %s and %s disagree on block_m (%d, %d)",
                  r->name, main->name, r->block_m, main->block_m);
  }

  const TensorView views[8] = {bwd_q_view(p),    bwd_k_view(p),  bwd_v_view(p),  bwd_o_view(p),
                               bwd_dout_view(p), bwd_dq_view(p), bwd_dk_view(p), bwd_dv_view(p)};
  for (const TensorView& t : views) {
    const Range r = view_range(t);
    if (r.hi == r.lo) continue;  // a packed tensor of 0 rows
    st = check_device_range(t.name, r.lo, r.hi);
    if (st != PTXFMHA_OK) return st;
  }
  for (const Range& r : bwd_meta_ranges(p))
    if (r.hi > r.lo) {
      st = check_device_range(r.name, r.lo, r.hi);
      if (st != PTXFMHA_OK) return st;
    }
  const Range lse = lse_range(p);
  if (lse.hi > lse.lo) {
    st = check_device_range("lse", lse.lo, lse.hi);
    if (st != PTXFMHA_OK) return st;
  }
  for (const Range& r : {heads_range("alibi_slopes", p.alibi_slopes, p), heads_range("sink_logits", p.sink_logits, p),
                         heads_range("d_sink", p.d_sink, p)})
    if (r.lo != 0) {
      st = check_device_range(r.name, r.lo, r.hi);
      if (st != PTXFMHA_OK) return st;
    }
  const uint64_t ws_lo = reinterpret_cast<uintptr_t>(p.workspace);
  st = check_device_range("workspace", ws_lo, ws_lo + ws.bytes);
  if (st != PTXFMHA_OK) return st;

  const KernelInfo* dsink = nullptr;  // d_sink: fmha_bwd_dsink after fmha_bwd_pre
  if (p.d_sink != nullptr) {
    dsink = find_bwd_dsink_row(dev.sm);
    if (dsink == nullptr)
      return fail(PTXFMHA_ERR_UNSUPPORTED_FEATURE, "ptxfmha_bwd: d_sink has no kernel for sm_%d (%s)", dev.sm,
                  dev.arch ? dev.arch : "no kernels for this architecture");
    if (dsink->param_bytes != static_cast<int>(sizeof(BwdKernelParams)))
      return fail(PTXFMHA_ERR_CUBIN_INVALID, "kernel table row %s declares a %d-byte parameter block, the host ABI is %zu bytes",
                  dsink->name, dsink->param_bytes, sizeof(BwdKernelParams));
  }

  // Every cubin is loaded before the first launch: a missing one fails with nothing written.
  LoadedKernel kpre, kmain, kpost, kdsink;
  st = get_kernel(dev, *pre, &kpre);
  if (st == PTXFMHA_OK) st = get_kernel(dev, *main, &kmain);
  if (st == PTXFMHA_OK) st = get_kernel(dev, *post, &kpost);
  if (st == PTXFMHA_OK && dsink != nullptr) st = get_kernel(dev, *dsink, &kdsink);
  if (st != PTXFMHA_OK) return st;

  BwdKernelParams kp;
  std::memset(&kp, 0, sizeof kp);
  {
    // A packed tensor of 0 rows gets a map of one row: the main kernel never loads from it
    // (no sequence has a query, or a key, so every CTA writes zeros or nothing).
    TensorView tv[4] = {views[0], views[1], views[2], views[4]};
    for (TensorView& t : tv)
      if (empty_view(t)) t.dims[1] = 1;
    st = encode_tensor_map(tv[0], kBoxColsElems, static_cast<unsigned>(main->block_m), &kp.tma_q);
    if (st == PTXFMHA_OK) st = encode_tensor_map(tv[1], kBoxColsElems, static_cast<unsigned>(main->block_n), &kp.tma_k);
    if (st == PTXFMHA_OK) st = encode_tensor_map(tv[2], kBoxColsElems, static_cast<unsigned>(main->block_n), &kp.tma_v);
    if (st == PTXFMHA_OK) st = encode_tensor_map(tv[3], kBoxColsElems, static_cast<unsigned>(main->block_m), &kp.tma_do);
    if (st != PTXFMHA_OK) return st;
  }

  // Grids over the longest sequence (seqlen_q / seqlen_k, or max_seqlen_q / max_seqlen_k).
  const int64_t num_m_blocks = (int64_t(bwd_max_len_q(p)) + main->block_m - 1) / main->block_m;
  const int64_t num_n_blocks = (int64_t(bwd_max_len_k(p)) + main->block_n - 1) / main->block_n;
  const float scale = bwd_effective_scale(p);
  kp.o_ptr = reinterpret_cast<uintptr_t>(p.o);
  kp.do_ptr = reinterpret_cast<uintptr_t>(p.dout);
  kp.lse_ptr = reinterpret_cast<uintptr_t>(p.lse);
  kp.dq_ptr = reinterpret_cast<uintptr_t>(p.dq);
  kp.dk_ptr = reinterpret_cast<uintptr_t>(p.dk);
  kp.dv_ptr = reinterpret_cast<uintptr_t>(p.dv);
  kp.dq_acc_ptr = ws_lo + ws.dq_acc;
  kp.nlse_ptr = ws_lo + ws.nlse;
  kp.dsum_ptr = ws_lo + ws.dsum;
  kp.sem_ptr = ws_lo + ws.sem;
  kp.debug_ptr = debug;
  const int64_t* strides[5][3] = {
      {&p.o_batch_stride, &p.o_seq_stride, &p.o_head_stride},
      {&p.dout_batch_stride, &p.dout_seq_stride, &p.dout_head_stride},
      {&p.dq_batch_stride, &p.dq_seq_stride, &p.dq_head_stride},
      {&p.dk_batch_stride, &p.dk_seq_stride, &p.dk_head_stride},
      {&p.dv_batch_stride, &p.dv_seq_stride, &p.dv_head_stride}};
  int64_t* dst[5] = {kp.o_stride, kp.do_stride, kp.dq_stride, kp.dk_stride, kp.dv_stride};
  for (int t = 0; t < 5; ++t)
    for (int i = 0; i < 3; ++i) dst[t][i] = *strides[t][i];
  kp.seqlen_q = p.seqlen_q;
  kp.seqlen_k = p.seqlen_k;
  kp.heads_q = p.heads_q;
  kp.heads_kv = p.heads_kv;
  kp.gqa_ratio = p.heads_q / p.heads_kv;
  kp.batch = p.batch;
  kp.causal = p.causal;
  kp.num_m_blocks = static_cast<int32_t>(num_m_blocks);
  kp.seqlen_q_pad = static_cast<int32_t>(num_m_blocks * main->block_m);
  kp.scale_log2 = static_cast<float>(static_cast<double>(scale) * kLog2e);
  kp.softmax_scale = scale;
  kp.deterministic = p.deterministic;
  kp.rotate = bwd_rotate_walk(main->features == 0, p.causal != 0, num_n_blocks, num_m_blocks, dev.num_sms,
                              env_says_off("PTXFMHA_BWD_ROTATE"))
                  ? 1
                  : 0;
  {  // variable length (varlen.ptxh)
    kp.cu_q_ptr = reinterpret_cast<uintptr_t>(p.cu_seqlens_q);
    kp.cu_k_ptr = reinterpret_cast<uintptr_t>(p.cu_seqlens_k);
    kp.seqused_ptr = reinterpret_cast<uintptr_t>(p.seqused_k);
    kp.total_q = p.total_q;
    kp.total_k = p.total_k;
    kp.max_seqlen_q = bwd_max_len_q(p);
    kp.max_seqlen_k = bwd_max_len_k(p);
    kp.ws_tiles = bwd_varlen_q(p) ? p.total_q / main->block_m + p.batch : 0;
    kp.ws_block_m = main->block_m;
  }
  {  // the ext main kernel's features (bwd_abi.h); plain kernels ignore these fields
    const AttnWindow w = canonical_window(p.causal, p.window_left, p.window_right, bwd_max_len_q(p), bwd_max_len_k(p));
    kp.window_left = w.left < 0 ? INT32_MAX : w.left;
    kp.window_right = w.right < 0 ? INT32_MAX : w.right;
    if (p.softcap > 0.0f) {
      kp.softcap_in = static_cast<float>(double(scale) / double(p.softcap));
      kp.softcap_out = static_cast<float>(double(p.softcap) * kLog2e);
    }
    kp.alibi_ptr = reinterpret_cast<uintptr_t>(p.alibi_slopes);
    kp.sink_ptr = reinterpret_cast<uintptr_t>(p.sink_logits);
    kp.dsink_ptr = reinterpret_cast<uintptr_t>(p.d_sink);
  }

  const CUstream stream = static_cast<CUstream>(p.stream);
  LaunchDims rows_grid;  // pre and post: one CTA per (m-block, query head, batch)
  rows_grid.grid[0] = static_cast<unsigned>(num_m_blocks);
  rows_grid.grid[1] = static_cast<unsigned>(p.heads_q);
  rows_grid.grid[2] = static_cast<unsigned>(p.batch);
  rows_grid.stream = stream;

  // Packed Q with no query rows (max_seqlen_q 0): no pre and post; packed K with no keys: no
  // main kernel (the pre kernel's zeroed accumulator gives dQ = 0).
  LaunchDims d = rows_grid;
  d.block[0] = static_cast<unsigned>(pre->threads);
  d.smem_bytes = static_cast<unsigned>(pre->smem_bytes);
  if (num_m_blocks > 0) {
    st = launch_kernel(kpre.function, d, &kp, pre->name);
    if (st != PTXFMHA_OK) return st;
  }
  if (dsink != nullptr) {  // reads the rows fmha_bwd_pre wrote; one CTA per query head
    LaunchDims ds;
    ds.grid[0] = static_cast<unsigned>(p.heads_q);
    ds.block[0] = static_cast<unsigned>(dsink->threads);
    ds.stream = stream;
    st = launch_kernel(kdsink.function, ds, &kp, dsink->name);
    if (st != PTXFMHA_OK) return st;
  }

  LaunchDims dm;  // one CTA per (n-block of keys, KV head, batch)
  dm.grid[0] = static_cast<unsigned>(num_n_blocks);
  dm.grid[1] = static_cast<unsigned>(p.heads_kv);
  dm.grid[2] = static_cast<unsigned>(p.batch);
  dm.block[0] = static_cast<unsigned>(main->threads);
  dm.smem_bytes = static_cast<unsigned>(main->smem_bytes);
  dm.stream = stream;
  // Programmatic dependent launch of the main and post kernels (kernel.ptxh: they wait with
  // griddepcontrol.wait before reading what the previous kernel wrote): only behind our own
  // fmha_bwd_pre, which ran after everything before the call completed; the main kernel loads
  // K / V before its wait. PTXFMHA_BWD_PDL=0 launches both fully serialized (A/B).
  const bool pdl = num_m_blocks > 0 && !env_says_off("PTXFMHA_BWD_PDL");
  dm.programmatic_serialization = pdl;
  if (num_n_blocks > 0) {
    st = launch_kernel(kmain.function, dm, &kp, main->name);
    if (st != PTXFMHA_OK) return st;
  }

  d = rows_grid;
  d.block[0] = static_cast<unsigned>(post->threads);
  d.smem_bytes = static_cast<unsigned>(post->smem_bytes);
  d.programmatic_serialization = pdl;
  if (num_m_blocks == 0) return PTXFMHA_OK;
  return launch_kernel(kpost.function, d, &kp, post->name);
}

// Runs f() with the host-side exceptions (allocation, internal errors) turned into statuses.
template <class F>
ptxfmha_status guarded(const char* what, F f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "%s: out of host memory", what);
  } catch (const std::exception& e) {
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "%s: internal error: %s", what, e.what());
  }
}

ptxfmha_status guarded_workspace_size(const ptxfmha_bwd_params* params, uint64_t* bytes) {
  return guarded("ptxfmha_bwd_workspace_size", [&] {
    uint64_t b = 0;
    const ptxfmha_status st = bwd_impl(params, 0, false, &b);
    if (st == PTXFMHA_OK) *bytes = b;
    return st;
  });
}

}  // namespace

ptxfmha_status bwd_with_main_row(const ptxfmha_bwd_params* params, const KernelInfo* main, uint64_t debug) {
  if (main == nullptr) return fail(PTXFMHA_ERR_NULL_POINTER, "bwd_with_main_row: main row is NULL");
  return guarded("ptxfmha_bwd", [&] { return bwd_impl(params, debug, true, nullptr, main); });
}

ptxfmha_status bwd_with_debug(const ptxfmha_bwd_params* params, uint64_t debug) {
  return guarded("ptxfmha_bwd", [&] { return bwd_impl(params, debug, true, nullptr); });
}

}  // namespace ptxfmha

extern "C" PTXFMHA_API void ptxfmha_bwd_params_init(ptxfmha_bwd_params* params) {
  if (params == nullptr) return;
  ptxfmha::bwd_params_defaults(params);
}

extern "C" PTXFMHA_API ptxfmha_status ptxfmha_bwd(const ptxfmha_bwd_params* params) {
  return ptxfmha::bwd_with_debug(params, 0);
}

extern "C" PTXFMHA_API ptxfmha_status ptxfmha_bwd_workspace_size(const ptxfmha_bwd_params* params,
                                                                 uint64_t* bytes) {
  if (bytes == nullptr) return ptxfmha::fail(PTXFMHA_ERR_NULL_POINTER, "bytes is NULL");
  return ptxfmha::guarded_workspace_size(params, bytes);
}
