// Tensor view: the low-level description of a strided 4-D operand that validation
// (validate.h), tensor-map encoding (tensor_map.h) and the entry points share.
//
// Invariants: a plain value with no ownership (ptr is borrowed, never dereferenced here);
// the two helpers are pure integer arithmetic (128-bit intermediates, no overflow), need no
// device and no error state. They are defined in validate.cpp next to validate_tensor, which
// is built on them.
#pragma once
#include <cstdint>

namespace ptxfmha {

// A strided 4-D tensor [batch, seq, heads, head_dim], head_dim contiguous (stride 1).
struct TensorView {
  const char* name;       // "q", "k", ... used in messages as <name>_seq_stride etc.
  const void* ptr;
  int64_t dims[4];        // batch, seq, heads, head_dim (elements)
  int64_t strides[3];     // batch, seq, heads (elements)
  int elem_bytes;         // 2 for bf16
};

// Byte range [lo, hi) covered by the tensor (all strides >= 0, all dims >= 1):
// lo = ptr, hi = ptr + elem_bytes * (sum_i (dims[i]-1)*strides[i] + head_dim).
// Dims of extent 1 add nothing whatever their stride.
// Returns false if that overflows uint64 / the address space.
bool tensor_byte_extent(const TensorView& t, uint64_t* lo, uint64_t* hi);

// True when no two distinct (b, s, h) rows of head_dim elements share an element.
// Rule: drop dims of extent 1 (their stride is never used), sort the remaining
// (batch, seq, heads) dims by stride ascending; each stride must be at least the span of
// the faster dims, span = head_dim + sum over faster dims of (extent-1)*stride. This is
// sufficient for disjoint rows, and it holds for every layout made from a dense tensor by
// permuting dims, padding rows or slicing (so for every PyTorch-style view): it only
// rejects exotic interleavings that are injective without being nested. Two dims of
// extent > 1 with equal strides (e.g. a broadcast stride 0) always fail.
// On failure *bad_dim is 0 (batch), 1 (seq) or 2 (heads): the stride that is too small.
bool tensor_rows_disjoint(const TensorView& t, int* bad_dim);

}  // namespace ptxfmha
