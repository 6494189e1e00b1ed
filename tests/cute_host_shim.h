// What the CUTLASS cross-checks share (test_cpu_sm100a_cutlass.cpp, test_cpu_sm90_decode_cutlass.cpp
// and _cpasync.cpp, which compute CUTLASS's shared-memory layouts and descriptors on the host).
// Include it before any CuTe header, in one translation unit each:
//   - the host stand-in for the device intrinsic CuTe calls in cast_smem_ptr_to_uint
//     (cute/arch/util.hpp): the shared-memory address of a pointer into g_smem_arena is its
//     offset plus g_smem_window;
//   - cutlass_xcheck::Arena, the host memory standing for that window;
//   - cutlass_xcheck::Tally, the comparisons counted and the first 40 differences kept.
#ifndef PTXFMHA_TESTS_CUTE_HOST_SHIM_H
#define PTXFMHA_TESTS_CUTE_HOST_SHIM_H
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

static const unsigned char* g_smem_arena = nullptr;
static uint32_t g_smem_window = 0;
static inline size_t __cvta_generic_to_shared(const void* p) {
  return static_cast<size_t>(static_cast<const unsigned char*>(p) - g_smem_arena) + g_smem_window;
}
#define CUTE_CVTA_GENERIC_TO_SHARED_ACTIVATED 1

namespace cutlass_xcheck {

// A 256 KiB arena standing for the shared-memory window [window, window + 256 KiB).
struct Arena {
  std::vector<unsigned char> mem = std::vector<unsigned char>(256 * 1024 + 4096);
  explicit Arena(uint32_t window) {
    g_smem_arena = mem.data();
    g_smem_window = window;
  }
  template <class T>
  T* at(uint32_t smem_addr) const {
    return reinterpret_cast<T*>(const_cast<unsigned char*>(mem.data()) + (smem_addr - g_smem_window));
  }
};

struct Tally {
  long compared = 0;
  long lbo_unused = 0;  // sm100a: V descriptors equal but for the unused LBO field (D = 64)
  long elements = 0;    // sm90 decode: Q tile and copy elements followed to their place
  std::vector<std::string> bad;
  void cmp(const std::string& what, uint64_t cutlass, uint64_t got) {
    ++compared;
    if (cutlass != got && bad.size() < 40) {
      std::ostringstream o;
      o << what << ": CUTLASS 0x" << std::hex << cutlass << ", got 0x" << got;
      bad.push_back(o.str());
    } else if (cutlass != got) {
      bad.push_back("");
    }
  }
  void truth(const std::string& what, bool ok) {
    ++compared;
    if (!ok) bad.push_back(what);
  }
};

}  // namespace cutlass_xcheck
#endif
