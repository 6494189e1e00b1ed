// C ABI entry points that are not kernels: status strings, last error, cubin dir, version.
#include <string>

#include "ptxfmha/ptxfmha.h"
#include "runtime.h"

#ifndef PTXFMHA_VERSION_STRING
#define PTXFMHA_VERSION_STRING "0.1.0"
#endif

extern "C" {

PTXFMHA_API const char* ptxfmha_status_string(ptxfmha_status status) {
  return ptxfmha::status_name(status);
}

PTXFMHA_API const char* ptxfmha_last_error(void) { return ptxfmha::last_error_message(); }

PTXFMHA_API ptxfmha_status ptxfmha_set_cubin_dir(const char* dir) {
  constexpr std::size_t kMaxPathBytes = 4096;
  if (dir != nullptr) {
    std::size_t n = 0;
    while (n <= kMaxPathBytes && dir[n] != '\0') ++n;
    if (n > kMaxPathBytes)
      return ptxfmha::fail(PTXFMHA_ERR_INVALID_ARGUMENT, "dir is longer than %zu bytes",
                           kMaxPathBytes);
  }
  ptxfmha::set_cubin_dir(dir);
  return PTXFMHA_OK;
}

PTXFMHA_API const char* ptxfmha_get_cubin_dir(void) {
  thread_local std::string dir;  // stays valid until this thread's next call
  dir = ptxfmha::cubin_dir();
  return dir.c_str();
}

PTXFMHA_API const char* ptxfmha_version(void) { return PTXFMHA_VERSION_STRING; }

}  // extern "C"
