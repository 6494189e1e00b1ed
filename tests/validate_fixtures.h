// Fixtures of the CPU validation tests: fake device addresses and the one valid paged decode
// problem the decode, e4m3 and attn-decode validation tests start from (each test then breaks
// one field). Addresses only: nothing is dereferenced, no device is needed.
#pragma once
#include <cstdint>

namespace ptxfmha_test {

// A distinct, 16-byte aligned, non-overlapping fake device address per slot (64 GiB apart).
inline void* fake(uint64_t slot) { return reinterpret_cast<void*>(uint64_t(0x7f0000000000) + slot * (uint64_t(1) << 36)); }

// The common valid paged decode problem: B=4, Sq=2, Hq=32, Hkv=8, D=128, page 64, 1000 keys
// max, causal, pointers in slots 1..7. P: ptxfmha_decode_params or ptxfmha_decode_attn_params.
template <class P>
void fill_valid_paged_decode(P* p) {
  p->batch = 4; p->seqlen_q = 2; p->max_seqlen_k = 1000; p->heads_q = 32; p->heads_kv = 8; p->head_dim = 128;
  p->q = fake(1); p->k_cache = fake(2); p->v_cache = fake(3); p->o = fake(4);
  p->lse = static_cast<float*>(fake(5));
  p->seqlens_k = static_cast<const int32_t*>(fake(6));
  p->block_table = static_cast<const int32_t*>(fake(7));
  p->q_head_stride = 128; p->q_seq_stride = 32 * 128; p->q_batch_stride = 2 * 32 * 128;
  p->o_head_stride = 128; p->o_seq_stride = 32 * 128; p->o_batch_stride = 2 * 32 * 128;
  p->page_size = 64; p->max_blocks_per_seq = 16; p->num_pages = 100;
  p->k_head_stride = 128; p->k_seq_stride = 8 * 128; p->k_batch_stride = 64 * 8 * 128;
  p->v_head_stride = 128; p->v_seq_stride = 8 * 128; p->v_batch_stride = 64 * 8 * 128;
  p->softmax_scale = 0.088f;
  p->causal = 1;
}

}  // namespace ptxfmha_test
