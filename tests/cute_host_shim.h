// Host stand-in for the device intrinsic CuTe calls in cast_smem_ptr_to_uint (cute/arch/util.hpp),
// for the tests that compute CUTLASS's shared-memory descriptors on the host (the CUTLASS
// cross-checks: test_cpu_sm100a_cutlass.cpp, test_cpu_sm90_decode_cutlass.cpp). Include it
// before any CuTe header, in one translation unit each: the shared-memory address of a pointer
// into g_smem_arena is its offset plus g_smem_window.
#ifndef PTXFMHA_TESTS_CUTE_HOST_SHIM_H
#define PTXFMHA_TESTS_CUTE_HOST_SHIM_H
#include <cstddef>
#include <cstdint>

static const unsigned char* g_smem_arena = nullptr;
static uint32_t g_smem_window = 0;
static inline size_t __cvta_generic_to_shared(const void* p) {
  return static_cast<size_t>(static_cast<const unsigned char*>(p) - g_smem_arena) + g_smem_window;
}
#define CUTE_CVTA_GENERIC_TO_SHARED_ACTIVATED 1
#endif
