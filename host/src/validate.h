// Argument validation, run before anything touches the device.
//
// Every failure records (status.h fail()) a message naming the argument, e.g.
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
// and in fwd.cpp, with the context current (device_range.h check_device_range):
//   INVALID_ARGUMENT      the first or last byte of q, k, v, o or lse is not memory CUDA
//                         knows (a host pointer, or an allocation smaller than the extent)
//
// TensorView, tensor_byte_extent and tensor_rows_disjoint are declared in tensor_view.h
// (included here) and defined in validate.cpp.
#pragma once
#include <initializer_list>
#include <cstdint>

#include "kernel_table.h"
#include "ptxfmha/ptxfmha.h"
#include "tensor_view.h"

namespace ptxfmha {

// Per-tensor checks shared by fwd and decode: stride sign/multiple-of-8, byte-stride limits
// (< 2^40 bytes), extent overflow, row overlap. Records the error and returns its status.
ptxfmha_status validate_tensor(const TensorView& t);

// Shared argument checks of every entry point: the first NULL pointer -> NULL_POINTER, the
// first size <= 0 -> INVALID_SIZE, each message naming the argument.
struct NamedPtr { const void* ptr; const char* name; };
struct NamedSize { int32_t value; const char* name; };
ptxfmha_status require_non_null(std::initializer_list<NamedPtr> ptrs);
ptxfmha_status require_positive(std::initializer_list<NamedSize> sizes);
// SIZE_OVERFLOW when heads_q or batch exceeds 65535 (the grids put them in y and z, or the
// kernels index them in 16 bits of a launch dimension), naming the argument.
constexpr int64_t kMaxGridYZ = 65535;  // gridDim.y / gridDim.z limit
ptxfmha_status require_grid_yz(int32_t heads_q, int32_t batch);

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
