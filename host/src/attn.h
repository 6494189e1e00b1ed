// ptxfmha_attn / ptxfmha_decode_attn, host side: canonical window, feature bits, dispatch.
//
// Flow of ptxfmha_attn (attn.cpp):
//   load_attn_params      struct_size versioning (validate_attn.h)
//   validate_attn_shape   every host-visible rule (validate_attn.h)
//   no query rows         (varlen, total_q == 0): nothing to do, PTXFMHA_OK, no device touched
//   attn_canonical        window folded with causal and with the sequence bounds; feature bits
//   no feature            attn_as_fwd -> fwd_with_row (the plain ptxfmha_fwd path, its kernels)
//   features              acquire_device, head_dim support (validate_fwd_head_dim),
//                         check_attn_device_ranges, the feature row (fwd.h find_attn_row:
//                         the fewest extra features covering the call), or
//                         UNSUPPORTED_FEATURE for the bits no row of the arch has, naming
//                         them and the arch; then fwd.h attn_launch (the forward's launch path).
// ptxfmha_decode_attn: decode_attn.cpp (decode.h): validation, the canonical window, then the
// decode launch path ptxfmha_decode shares, with the feature and e4m3 kernel rows.
#pragma once
#include <cstdint>
#include <exception>
#include <new>
#include <string>

#include "attn_kernel_abi.h"
#include "ptxfmha/ptxfmha.h"
#include "runtime.h"

namespace ptxfmha {

// The window of a call after folding causal in and dropping bounds that cannot cut:
//   right = causal ? 0 : window_right
//   left  = -1 when window_left >= max_len_k - 1 (no row's diagonal is further right than
//           len_k - 1, so j >= d - left holds for every key)
//   right = -1 when right >= 1 and right >= max_len_q - 1 (no diagonal is further left
//           than len_k - len_q, so j <= d + right holds for every key)
// causal (right == 0 && left == -1) is the plain kernels' causal flag; any other bound is
// the kAttnWindow feature.
struct AttnWindow {
  int32_t left = -1, right = -1;
  bool causal() const { return right == 0 && left == -1; }
  bool is_feature() const { return left >= 0 || right >= 1; }
};
AttnWindow canonical_window(int32_t causal, int32_t window_left, int32_t window_right,
                            int32_t max_len_q, int32_t max_len_k);

// Feature bits (attn_kernel_abi.h) of validated params, window canonical.
uint32_t attn_features(const ptxfmha_attn_params& p);
uint32_t decode_attn_features(const ptxfmha_decode_attn_params& p);
// "varlen_q (cu_seqlens_q), softcap, ..." in bit order; "none" for 0.
std::string attn_feature_names(uint32_t bits);
// Feature bits some forward (decode) kernel of the architecture of compute capability sm
// implements. Forward: the union of its rows' KernelInfo::features (sm90a: every feature
// through the EXT and PAGED rows; sm100a: the _ext rows of the two-tile kernels). Decode
// (decode_attn.cpp): kDecodeAttnFeatures where the arch has the _attn split and _sink combine rows.
uint32_t attn_supported_features(int sm);
uint32_t decode_attn_supported_features(int sm);

// The ptxfmha_fwd_params of validated params without features (causal from the canonical
// window).
ptxfmha_fwd_params attn_as_fwd(const ptxfmha_attn_params& p);

// Runs an entry point's body; host exceptions become INVALID_ARGUMENT naming `entry` (the C
// ABI never throws).
template <class F>
ptxfmha_status api_guard(const char* entry, F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "%s: out of host memory", entry);
  } catch (const std::exception& e) {
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "%s: internal error: %s", entry, e.what());
  }
}

}  // namespace ptxfmha
