// Family "decode": a few query tokens per sequence against a KV cache, contiguous or paged,
// ptxfmha_decode against cuDNN's SDPA forward (dense, or paged SDPA with page tables for K and
// V and a padding mask).
#include "bench_family.h"

// The decode entry points are part of the frozen C ABI but were written after the forward
// path. Weak references let this binary link against a library that does not define them and
// report decode as absent; bench.mk links libptxfmha.a whole (--whole-archive), so wherever
// they are defined they are linked in and these pointers are non-null.
extern "C" ptxfmha_status ptxfmha_decode(const ptxfmha_decode_params* params) __attribute__((weak));
extern "C" ptxfmha_status ptxfmha_decode_workspace_size(const ptxfmha_decode_params* params,
                                                       uint64_t* bytes) __attribute__((weak));

namespace ptxfmha_bench {
namespace {

// K/V strides of the cache: dense [batch, seqlen_k, heads_kv, d] or the page pool [pages,
// page_size, heads_kv, d] (batch stride = page stride), in elements.
void cache_strides(const Case& c, int64_t st[3]) {
  dense_strides(c.paged() ? c.page_size : c.seqlen_k, c.heads_kv, c.head_dim, st);
}

ptxfmha_decode_params decode_params(const Case& c, const OursPlan& plan, const SetView& v) {
  int64_t st[3], kst[3];
  dense_strides(c.seqlen_q, c.heads_q, c.head_dim, st);
  cache_strides(c, kst);
  ptxfmha_decode_params d{};
  d.q = v.q; d.k_cache = v.k; d.v_cache = v.v; d.o = v.o; d.lse = v.lse;
  d.q_batch_stride = st[0]; d.q_seq_stride = st[1]; d.q_head_stride = st[2];
  d.o_batch_stride = st[0]; d.o_seq_stride = st[1]; d.o_head_stride = st[2];
  d.k_batch_stride = kst[0]; d.k_seq_stride = kst[1]; d.k_head_stride = kst[2];
  d.v_batch_stride = kst[0]; d.v_seq_stride = kst[1]; d.v_head_stride = kst[2];
  d.batch = int32_t(c.batch); d.seqlen_q = int32_t(c.seqlen_q); d.max_seqlen_k = int32_t(c.seqlen_k);
  d.heads_q = int32_t(c.heads_q); d.heads_kv = int32_t(c.heads_kv); d.head_dim = int32_t(c.head_dim);
  if (c.paged()) {
    d.block_table = v.page_table;
    d.page_size = int32_t(c.page_size);
    d.max_blocks_per_seq = int32_t(c.blocks_per_seq());
    d.num_pages = int32_t(c.num_pages());
  }
  d.softmax_scale = ours_scale(c);
  d.causal = c.causal ? 1 : 0;
  d.num_splits = 0;
  d.workspace = v.ours_ws;
  d.workspace_bytes = plan.ws_bytes;
  d.stream = g_stream;
  return d;
}

class DecodeFamily final : public Family {
 public:
  const char* id() const override { return "decode"; }

  std::string ours_prepare(const Case& c, const SetView& set0, OursPlan* plan) const override {
    plan->kernel = ptxfmha::find_kernel(g_dev.sm, ptxfmha::KernelKind::Decode, int(c.head_dim));
    if (!plan->kernel) return no_kernel_message(c, ptxfmha::KernelKind::Decode, "decode");
    if (ptxfmha_decode == nullptr || ptxfmha_decode_workspace_size == nullptr)
      return "libptxfmha has a decode kernel row but no ptxfmha_decode entry point yet";
    // Workspace for split-KV partials, one per rotation set (rounded to 256 bytes).
    ptxfmha_decode_params d = decode_params(c, *plan, set0);
    d.workspace = nullptr;
    d.workspace_bytes = 0;
    uint64_t ws = 0;
    const std::string e =
        status_message("ptxfmha_decode_workspace_size", ptxfmha_decode_workspace_size(&d, &ws));
    if (e.empty()) plan->ws_bytes = (ws + 255) & ~uint64_t(255);
    return e;
  }

  std::string ours_launch(const Case& c, const OursPlan& plan, const SetView& v) const override {
    const ptxfmha_decode_params d = decode_params(c, plan, v);
    return status_message("ptxfmha_decode", ptxfmha_decode(&d));
  }

  SdpaProblem cudnn_problem(const Case& c) const override {
    SdpaProblem p = Family::cudnn_problem(c);
    if (c.paged()) {
      cache_strides(c, p.k_stride);
      cache_strides(c, p.v_stride);
      p.page_size = c.page_size;
      p.num_pages = c.num_pages();
      p.table_cols = c.blocks_per_seq();
    }
    return p;
  }
};

const FamilyRegistrar kDecode(std::make_unique<DecodeFamily>());

}  // namespace
}  // namespace ptxfmha_bench
