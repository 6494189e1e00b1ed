// Internal entries of the float64 reference shared by reference_fwd (reference.cpp),
// reference_attn (reference_attn.cpp) and reference_attn_e4m3 (decode_reference.cpp). See
// host/include/ptxfmha/reference.h.
#pragma once
#include <cstdint>

#include "ptxfmha/reference.h"

namespace ptxfmha {

// split_rows == false: one task per (sequence, query head), as reference_fwd always did
// (callers that parallelise over row blocks themselves keep one thread per call);
// true: long sequences are cut into blocks of rows so that few heads still use every core.
// `who` prefixes the exception messages ("reference_fwd", "reference_attn").
// v == nullptr: the LSE only, as reference_attn_lse below.
// `limits` set the threads and bound the scores a task holds at a time (rows x keys of one
// block of its rows); the results do not depend on them (tests vary them to reach every path).
struct RefAttnLimits {
  int threads = 0;  // 0: the machine's hardware threads, at most 16 (1 for small problems)
  int64_t score_budget = int64_t(1) << 22;  // 32 MB of float64 scores per thread
};
void reference_attn_impl(const RefAttnProblem& p, const uint16_t* q, const uint16_t* k,
                         const uint16_t* v, RefAttnResult* out, bool split_rows, const char* who,
                         const RefAttnLimits& limits = RefAttnLimits{});
// The LSE of reference_attn_impl(split_rows = true) alone, bitwise, with writers and visible:
// the same rows, visible keys and scores, but V is never read and no P V product is formed
// (out->o is left empty). reference_attn_e4m3's logit_mag is this on |q| and |k|.
void reference_attn_lse(const RefAttnProblem& p, const uint16_t* q, const uint16_t* k, RefAttnResult* out,
                        const char* who, const RefAttnLimits& limits = RefAttnLimits{});

}  // namespace ptxfmha
