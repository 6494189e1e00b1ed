// Status and last error: the one way every host function reports a failure.
//
//   fail(status, printf-format, ...) records the message as the calling thread's last error
//   and returns the status, so `return fail(PTXFMHA_ERR_X, "q is null");`.
//
// Invariants: the last error is thread-local (one message and status per host thread, never
// shared, so no locking); a function returning a ptxfmha_status other than PTXFMHA_OK has
// already called fail() (or fail_msg / fail_cuda), so callers just propagate the status.
// The C ABI's ptxfmha_last_error / ptxfmha_status_string (api.cpp) read these.
#pragma once
#include <cuda.h>

#include <string>

#include "ptxfmha/ptxfmha.h"

namespace ptxfmha {

// Records `status` and the formatted message as this thread's last error; returns status.
ptxfmha_status fail(ptxfmha_status status, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));
// Same, with a ready message.
ptxfmha_status fail_msg(ptxfmha_status status, const std::string& message);
// This thread's last error message ("" if none) and status (PTXFMHA_OK if none).
const char* last_error_message();
ptxfmha_status last_error_status();
void clear_last_error();
// Fixed short text of a status (ptxfmha_status_string).
const char* status_name(ptxfmha_status status);
// Fails with PTXFMHA_ERR_CUDA: "<what> failed: CUDA_ERROR_... (n): text".
ptxfmha_status fail_cuda(CUresult r, const char* what);

}  // namespace ptxfmha
