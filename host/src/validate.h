// Argument validation, run before anything touches the device.
//
// Every failure records (runtime.h fail()) a message naming the argument, e.g.
//   "q_seq_stride = 100 is not a multiple of 8 elements (TMA needs 16-byte strides)"
// and returns its own status. Nothing is written anywhere but the thread-local last error.
//
// Checks for ptxfmha_fwd, in this order (the first failing one is reported):
//   NULL_POINTER          params, q, k, v, o
//   INVALID_SIZE          batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim <= 0
//   GQA_RATIO             heads_q % heads_kv != 0
//   MISALIGNED_POINTER    q, k, v, o, lse not 16-byte aligned
//   INVALID_SCALE         softmax_scale NaN, infinite or <= 0
//   INVALID_ARGUMENT      causal not 0 or 1
//   SIZE_OVERFLOW         grid limits (heads_q, batch <= 65535), 32-bit sizes the kernels
//                         index (batch*heads_q*seqlen_q rows of O and LSE, hence tiles)
//   per tensor q, k, v, o (validate_tensor); strides of dims of extent 1 are never used and
//   never checked:
//   INVALID_STRIDE        a stride < 0, or not a multiple of 16 bytes (8 bf16 elements)
//   SIZE_OVERFLOW         a byte stride >= 2^40 (TMA limit), a byte extent that overflows
//                         int64 or the address space
//   INVALID_STRIDE        rows of the tensor overlap (see tensor_rows_disjoint)
//   ALIASING              O overlaps Q, K, V or LSE; LSE overlaps Q, K or V
// then, once the device is known (validate_fwd_head_dim):
//   UNSUPPORTED_HEAD_DIM  no forward kernel for head_dim on this device's architecture
// and in fwd.cpp, with the context current (runtime.h check_device_range):
//   INVALID_ARGUMENT      the first or last byte of q, k, v, o or lse is not memory CUDA
//                         knows (a host pointer, or an allocation smaller than the extent)
#pragma once
#include <initializer_list>
#include <cstdint>

#include "kernel_table.h"
#include "ptxfmha/ptxfmha.h"

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

// Per-tensor checks shared by fwd and decode: stride sign/multiple-of-8, byte-stride limits
// (< 2^40 bytes), extent overflow, row overlap. Records the error and returns its status.
ptxfmha_status validate_tensor(const TensorView& t);

// Shared argument checks of every entry point: the first NULL pointer -> NULL_POINTER, the
// first size <= 0 -> INVALID_SIZE, each message naming the argument.
struct NamedPtr { const void* ptr; const char* name; };
struct NamedSize { int32_t value; const char* name; };
ptxfmha_status require_non_null(std::initializer_list<NamedPtr> ptrs);
ptxfmha_status require_positive(std::initializer_list<NamedSize> sizes);

// The checks listed above that need no device. Stops at the first failure.
ptxfmha_status validate_fwd_shape(const ptxfmha_fwd_params* p);
// UNSUPPORTED_HEAD_DIM unless a KernelKind::Fwd row exists for (sm, head_dim); the message
// names head_dim, the device arch and the supported set.
ptxfmha_status validate_fwd_head_dim(const ptxfmha_fwd_params& p, int sm);

// The four tensor views of fwd params (elem_bytes 2).
TensorView fwd_q_view(const ptxfmha_fwd_params& p);
TensorView fwd_k_view(const ptxfmha_fwd_params& p);
TensorView fwd_v_view(const ptxfmha_fwd_params& p);
TensorView fwd_o_view(const ptxfmha_fwd_params& p);

}  // namespace ptxfmha
