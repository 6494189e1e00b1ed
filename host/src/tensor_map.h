// TMA tensor maps: cuTensorMapEncodeTiled over a validated tensor view.
//
// Invariants: stateless, thread-safe; the view must have passed validate_tensor (strides
// multiple of 16 bytes, < 2^40 bytes, no overflow) so the driver only rejects what the
// hardware cannot do (e.g. a base address it refuses), reported as PTXFMHA_ERR_CUDA.
#pragma once
#include <cuda.h>

#include "ptxfmha/ptxfmha.h"
#include "tensor_view.h"

namespace ptxfmha {

// cuTensorMapEncodeTiled over a validated TensorView, rank 4, innermost first:
// dims {head_dim, seq, heads, batch}, byte strides {seq, head, batch} * elem_bytes (a dim of
// extent 1 gets stride head_dim*elem_bytes instead of its unused value), box
// {box_cols, box_rows, 1, 1}, element strides 1, INTERLEAVE_NONE, L2 promotion `promotion`
// (default 256 B; the decode kernels pass decode_l2_promotion()), FLOAT_OOB_FILL_NONE
// (out-of-bounds reads give zeros). elem_bytes 2: BFLOAT16, SWIZZLE_128B; elem_bytes 1 (the
// decode kernels' e4m3 caches): UINT8, SWIZZLE_128B for boxes of 128 columns, SWIZZLE_64B for
// 64. Errors: CUDA naming t.name.
ptxfmha_status encode_tensor_map(const TensorView& t, unsigned box_cols, unsigned box_rows,
                                 CUtensorMap* out,
                                 CUtensorMapL2promotion promotion =
                                     CU_TENSOR_MAP_L2_PROMOTION_L2_256B);

}  // namespace ptxfmha
