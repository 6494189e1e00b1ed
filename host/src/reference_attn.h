// Internal entry of the float64 reference shared by reference_fwd (reference.cpp) and
// reference_attn (reference_attn.cpp). See host/include/ptxfmha/reference.h.
#pragma once
#include <cstdint>

#include "ptxfmha/reference.h"

namespace ptxfmha {

// split_rows == false: one task per (sequence, query head), as reference_fwd always did
// (callers that parallelise over row blocks themselves keep one thread per call);
// true: long sequences are cut into blocks of rows so that few heads still use every core.
// `who` prefixes the exception messages ("reference_fwd", "reference_attn").
void reference_attn_impl(const RefAttnProblem& p, const uint16_t* q, const uint16_t* k,
                         const uint16_t* v, RefAttnResult* out, bool split_rows, const char* who);

}  // namespace ptxfmha
