// Status and last error (thread-local). See status.h.
#include "status.h"

#include <cstdarg>
#include <cstdio>

#include "driver.h"

namespace ptxfmha {

namespace {
thread_local std::string t_last_message;
thread_local ptxfmha_status t_last_status = PTXFMHA_OK;
}  // namespace

ptxfmha_status fail_msg(ptxfmha_status status, const std::string& message) {
  t_last_status = status;
  t_last_message = message;
  return status;
}

ptxfmha_status fail(ptxfmha_status status, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return fail_msg(status, buf);
}

const char* last_error_message() { return t_last_message.c_str(); }
ptxfmha_status last_error_status() { return t_last_status; }
void clear_last_error() {
  t_last_status = PTXFMHA_OK;
  t_last_message.clear();
}

const char* status_name(ptxfmha_status status) {
  switch (status) {
    case PTXFMHA_OK: return "success";
    case PTXFMHA_ERR_NULL_POINTER: return "a required pointer is NULL";
    case PTXFMHA_ERR_MISALIGNED_POINTER: return "a tensor pointer is not 16-byte aligned";
    case PTXFMHA_ERR_UNSUPPORTED_HEAD_DIM: return "no kernel for this head_dim on this device";
    case PTXFMHA_ERR_INVALID_SIZE: return "a size is zero or negative";
    case PTXFMHA_ERR_SIZE_OVERFLOW: return "a size or extent overflows what the kernel indexes";
    case PTXFMHA_ERR_GQA_RATIO: return "heads_q is not a multiple of heads_kv";
    case PTXFMHA_ERR_INVALID_STRIDE: return "invalid stride (negative, not 16-byte multiple, or overlapping rows)";
    case PTXFMHA_ERR_ALIASING: return "an output overlaps another tensor";
    case PTXFMHA_ERR_INVALID_SCALE: return "softmax scale is NaN, infinite or <= 0";
    case PTXFMHA_ERR_NO_DRIVER: return "CUDA driver not available";
    case PTXFMHA_ERR_NO_DEVICE: return "no CUDA device";
    case PTXFMHA_ERR_UNSUPPORTED_ARCH: return "no kernels for this device architecture";
    case PTXFMHA_ERR_CUBIN_MISSING: return "cubin file not found";
    case PTXFMHA_ERR_CUBIN_WRONG_ARCH: return "cubin built for another architecture";
    case PTXFMHA_ERR_CUBIN_INVALID: return "cubin corrupt or lacks the kernel";
    case PTXFMHA_ERR_CUDA: return "CUDA driver call failed";
    case PTXFMHA_ERR_INVALID_PAGE_TABLE: return "invalid page size or block table";
    case PTXFMHA_ERR_INVALID_ARGUMENT: return "invalid argument";
    case PTXFMHA_ERR_UNSUPPORTED_FEATURE: return "no kernel for this feature combination on this device";
    case PTXFMHA_ERR_INVALID_METADATA: return "invalid device metadata (cu_seqlens, seqused_k, block table)";
  }
  return "unknown status";
}

ptxfmha_status fail_cuda(CUresult r, const char* what) {
  return fail_msg(PTXFMHA_ERR_CUDA, cu_error_message(r, what));
}

}  // namespace ptxfmha
