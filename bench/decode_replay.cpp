// Offline replay of the library's decode plan (decode_replay.h).
#include "decode_replay.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cudnn_sdpa.h"
#include "decode.h"
#include "decode_rows.h"
#include "kernel_table.h"

namespace ptxfmha_bench {

void decode_cache_strides(const Case& c, int64_t st[3]) {
  dense_strides(c.paged() ? c.page_size : c.seqlen_k, c.heads_kv, c.head_dim, st);
}

void decode_shape_params(const Case& c, const int32_t* block_table, ptxfmha_decode_params* d) {
  int64_t kst[3];
  decode_cache_strides(c, kst);
  d->k_batch_stride = kst[0]; d->k_seq_stride = kst[1]; d->k_head_stride = kst[2];
  d->v_batch_stride = kst[0]; d->v_seq_stride = kst[1]; d->v_head_stride = kst[2];
  d->batch = int32_t(c.batch);
  d->seqlen_q = int32_t(c.seqlen_q);
  d->max_seqlen_k = int32_t(c.seqlen_k);
  d->heads_q = int32_t(c.heads_q);
  d->heads_kv = int32_t(c.heads_kv);
  d->head_dim = int32_t(c.head_dim);
  if (c.paged()) {
    d->block_table = block_table;
    d->page_size = int32_t(c.page_size);
    d->max_blocks_per_seq = int32_t(c.blocks_per_seq());
    d->num_pages = int32_t(c.num_pages());
  }
}

void decode_call_params(const Case& c, const void* q, const void* k, const void* v, void* o, float* lse,
                        const int32_t* block_table, ptxfmha_decode_params* d) {
  int64_t st[3];
  dense_strides(c.seqlen_q, c.heads_q, c.head_dim, st);
  d->q = q; d->k_cache = k; d->v_cache = v; d->o = o; d->lse = lse;
  d->q_batch_stride = st[0]; d->q_seq_stride = st[1]; d->q_head_stride = st[2];
  d->o_batch_stride = st[0]; d->o_seq_stride = st[1]; d->o_head_stride = st[2];
  decode_shape_params(c, block_table, d);
  d->softmax_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  d->causal = c.causal ? 1 : 0;
}

int replay_ctas_per_sm(int64_t smem_bytes, int64_t threads, int64_t smem_per_sm) {
  int64_t n = smem_per_sm / (smem_bytes + kReplayCtaReservedBytes);
  if (threads > 0) n = std::min(n, kReplayThreadsPerSm / threads);
  return static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(n, 32)));
}

bool replay_decode_plan(const Case& c, int64_t sms, int64_t smem_per_sm, ReplayedDecodePlan* out,
                        std::string* why) {
  if (!c.decode() || !c.variant.empty()) {
    *why = c.name + ": not a decode cell with the library's plan";
    return false;
  }
  constexpr int kSm = 90;  // the Hopper rows (the ones measured)
  static const int32_t kTable[1] = {0};  // plans read only whether a table exists
  ptxfmha_decode_params p;
  std::memset(&p, 0, sizeof p);
  decode_shape_params(c, kTable, &p);
  const int kv_bytes = c.kv_elem_bytes;
  const ptxfmha::KernelInfo* row = ptxfmha::find_decode_split(
      kSm, p.head_dim, kv_bytes, false, p.heads_kv, int64_t(p.seqlen_q) * (p.heads_q / p.heads_kv));
  const ptxfmha::KernelInfo* combine = ptxfmha::find_decode_combine(kSm, p.head_dim, false);
  if (row == nullptr || combine == nullptr) {
    *why = c.name + ": no sm90a decode row";
    return false;
  }
  row = ptxfmha::decode_grid_row(kSm, sms, row, p, false);  // cluster merge off: the default
  const int per_sm = replay_ctas_per_sm(row->smem_bytes, row->threads, smem_per_sm);
  if (per_sm < 1) {
    *why = c.name + ": " + row->name + " does not fit an SM";
    return false;
  }
  ptxfmha::DecodePlan plan;
  ptxfmha::plan_decode(p, *row, *combine, sms * per_sm, &plan,
                       ptxfmha::decode_row_plan_options(row, sms, kv_bytes));
  out->row = row->name;
  out->per_sm = per_sm;
  out->splits = plan.num_splits;
  out->ctas = plan.split_ctas();
  return true;
}

}  // namespace ptxfmha_bench
