// Shape sets shared by the test suites: one place for the head dims, GQA ratios and page sizes
// that CPU and GPU suites iterate, so a new head dim or page size reaches every suite at once.
#pragma once
#include <array>

namespace ptxfmha_test {

// Head dims every kernel family implements (sm90a forward, decode and backward; sm100a forward).
inline constexpr std::array<int, 3> kHeadDims = {64, 128, 256};
// GQA ratios (heads_q / heads_kv) of the feature suites (issue 14's list).
inline constexpr std::array<int, 3> kGqaRatios = {1, 4, 8};
// Page sizes of the paged KV cache: powers of two from 16 to 256 (decode and paged prefill).
inline constexpr std::array<int, 5> kPageSizes = {16, 32, 64, 128, 256};

}  // namespace ptxfmha_test
