// Device pointers: is a tensor's byte range memory CUDA knows? Checked by every entry point
// once the context is current, before a launch.
//
// Invariants: stateless; one cuPointerGetAttribute per end of the range; needs a current
// context.
#pragma once
#include <cstdint>

#include "ptxfmha/ptxfmha.h"

namespace ptxfmha {

// Checks that [lo, hi) starts and ends in memory CUDA knows (cuPointerGetAttribute
// MEMORY_TYPE on lo and hi-1: device, managed or registered/pinned host memory), so a host
// pointer or a tensor running off the end of its allocation into unmapped space is reported
// instead of faulting in the kernel. Needs a current context. Errors: INVALID_ARGUMENT
// naming `name`. (Best effort: a range ending inside another allocation passes.)
ptxfmha_status check_device_range(const char* name, uint64_t lo, uint64_t hi);

}  // namespace ptxfmha
