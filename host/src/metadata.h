// Checks of device-resident metadata (cu_seqlens_q, cu_seqlens_k, seqused_k / seqlens_k,
// block_table) for ptxfmha_check_metadata and ptxfmha_check_decode_metadata.
//
// The check itself (check_metadata_host) is pure: it takes host copies of the arrays, so CPU
// tests cover every row; the public functions validate the params, copy the arrays from
// the device after the stream's work and run it. Order and statuses are those ptxfmha.h
// lists; the message names the array, the index and the value of the first bad entry.
#pragma once
#include <cstdint>
#include <vector>

#include "ptxfmha/ptxfmha.h"

namespace ptxfmha {

// What the arrays mean, from validated params.
struct MetadataSpec {
  int32_t batch = 0;
  bool varlen_q = false, varlen_k = false, paged = false, has_seqused = false;
  int32_t total_q = 0, max_seqlen_q = 0;  // varlen Q
  int32_t total_k = 0, max_seqlen_k = 0;  // varlen K
  int32_t seqlen_k = 0;                   // fixed / paged K: keys per sequence (cap_k)
  int32_t page_size = 0, max_blocks_per_seq = 0, num_pages = 0;
  const char* seqused_name = "seqused_k";  // decode: "seqlens_k"
  const char* cap_name = "seqlen_k";       // decode: "max_seqlen_k"
};
MetadataSpec metadata_spec(const ptxfmha_attn_params& p);
MetadataSpec metadata_spec(const ptxfmha_decode_attn_params& p);
MetadataSpec metadata_spec(const ptxfmha_bwd_params& p);  // cu_seqlens_q / _k, seqused_k as attn's

// Host copies; an array the spec does not use is empty, one it uses has exactly batch + 1
// (offsets), batch (seqused) or batch * max_blocks_per_seq (table) entries.
struct MetadataHost {
  std::vector<int32_t> cu_seqlens_q, cu_seqlens_k, seqused_k, block_table;
};

// PTXFMHA_OK, INVALID_METADATA (offsets, seqused) or INVALID_PAGE_TABLE (table entries);
// INVALID_ARGUMENT when an array's size does not match the spec (a caller bug).
ptxfmha_status check_metadata_host(const MetadataSpec& s, const MetadataHost& m);

}  // namespace ptxfmha
