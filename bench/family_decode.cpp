// Families "decode" and "decode_e4m3": a few query tokens per sequence against a KV cache,
// contiguous or paged, ptxfmha_decode against cuDNN's SDPA forward (dense, or paged SDPA with
// page tables for K and V and a padding mask). decode_e4m3 cells hold an e4m3 (FP8) cache with
// per-KV-head scales (ptxfmha_decode_attn, kv_dtype PTXFMHA_KV_E4M3); cuDNN cannot express
// them on Hopper (SdpaProblem::kv_e4m3), so they are timed on our side and against the read
// ceiling of their bytes. A cell's variant (--ptxfmha_decode_variants, bench_case.h) picks a
// named split kernel and / or the min-waves split policy through the library's internal hook
// (decode.h DecodeOverrides); the default cell calls ptxfmha_decode as a user would.
#include <cmath>
#include <mutex>

#include "bench_family.h"
#include "bench_options.h"
#include "bench_util.h"
#include "decode.h"
#include "decode_replay.h"
#include "decode_rows.h"
#include "driver.h"

// The decode entry points are part of the frozen C ABI but were written after the forward
// path. Weak references let this binary link against a library that does not define them and
// report decode as absent; bench.mk links libptxfmha.a whole (--whole-archive), so wherever
// they are defined they are linked in and these pointers are non-null.
extern "C" ptxfmha_status ptxfmha_decode(const ptxfmha_decode_params* params) __attribute__((weak));
extern "C" ptxfmha_status ptxfmha_decode_workspace_size(const ptxfmha_decode_params* params,
                                                       uint64_t* bytes) __attribute__((weak));

namespace ptxfmha_bench {
namespace {

constexpr int64_t kMaxScaleHeads = 1024;

ptxfmha_decode_params decode_params(const Case& c, const OursPlan& plan, const SetView& v) {
  ptxfmha_decode_params d{};
  decode_call_params(c, v.q, v.k, v.v, v.o, v.lse, v.page_table, &d);  // shape, strides, pages, causal
  d.softmax_scale = ours_scale(c);  // the gate's perturbation, where asked
  d.num_splits = 0;
  d.workspace = v.ours_ws;
  d.workspace_bytes = plan.ws_bytes;
  d.stream = g_stream;
  return d;
}

// The e4m3 cells' scales (decode_e4m3_scale, per KV head), device arrays made once.
const float* e4m3_scales(bool v) {
  static std::once_flag once;
  static CUdeviceptr k_dev = 0, v_dev = 0;
  std::call_once(once, [] {
    std::vector<float> ks(kMaxScaleHeads), vs(kMaxScaleHeads);
    for (int64_t h = 0; h < kMaxScaleHeads; ++h) {
      ks[std::size_t(h)] = decode_e4m3_scale(false, h);
      vs[std::size_t(h)] = decode_e4m3_scale(true, h);
    }
    const auto& d = ptxfmha::drv();
    cu_check(d.cuMemAlloc(&k_dev, ks.size() * 4), "cuMemAlloc");
    cu_check(d.cuMemAlloc(&v_dev, vs.size() * 4), "cuMemAlloc");
    cu_check(d.cuMemcpyHtoD(k_dev, ks.data(), ks.size() * 4), "cuMemcpyHtoD");
    cu_check(d.cuMemcpyHtoD(v_dev, vs.data(), vs.size() * 4), "cuMemcpyHtoD");
  });
  return reinterpret_cast<const float*>(v ? v_dev : k_dev);
}

// A cell's call through ptxfmha_decode_attn's path (e4m3 fields and overrides).
struct VariantCall {
  ptxfmha_decode_attn_params a;
  ptxfmha::DecodeOverrides ov;
  std::string kernel_name;
};
VariantCall variant_call(const Case& c, const ptxfmha_decode_params& d) {
  VariantCall v;
  ptxfmha_decode_attn_params_init(&v.a);
  ptxfmha_decode_attn_params& a = v.a;
  a.q = d.q; a.k_cache = d.k_cache; a.v_cache = d.v_cache; a.o = d.o; a.lse = d.lse;
  a.seqlens_k = d.seqlens_k; a.block_table = d.block_table;
  a.q_batch_stride = d.q_batch_stride; a.q_seq_stride = d.q_seq_stride; a.q_head_stride = d.q_head_stride;
  a.k_batch_stride = d.k_batch_stride; a.k_seq_stride = d.k_seq_stride; a.k_head_stride = d.k_head_stride;
  a.v_batch_stride = d.v_batch_stride; a.v_seq_stride = d.v_seq_stride; a.v_head_stride = d.v_head_stride;
  a.o_batch_stride = d.o_batch_stride; a.o_seq_stride = d.o_seq_stride; a.o_head_stride = d.o_head_stride;
  a.batch = d.batch; a.seqlen_q = d.seqlen_q; a.max_seqlen_k = d.max_seqlen_k;
  a.heads_q = d.heads_q; a.heads_kv = d.heads_kv; a.head_dim = d.head_dim;
  a.page_size = d.page_size; a.max_blocks_per_seq = d.max_blocks_per_seq; a.num_pages = d.num_pages;
  a.softmax_scale = d.softmax_scale; a.causal = d.causal; a.num_splits = d.num_splits;
  a.workspace = d.workspace; a.workspace_bytes = d.workspace_bytes; a.stream = d.stream;
  if (c.kv_elem_bytes == 1) {
    a.kv_dtype = PTXFMHA_KV_E4M3;
    a.kv_scale_count = d.heads_kv;
    a.k_scale = e4m3_scales(false);
    a.v_scale = e4m3_scales(true);
  }
  DecodeVariant dv;
  parse_decode_variant(c.variant.empty() ? "default" : c.variant, &dv, nullptr);
  if (!dv.kernel_stem.empty()) v.kernel_name = "fmha_decode_" + dv.kernel_stem + "_" + g_dev.arch;
  v.ov.split_kernel = v.kernel_name.empty() ? nullptr : v.kernel_name.c_str();
  v.ov.min_waves = dv.min_waves;
  if (dv.cluster == 1) v.ov.cluster = ptxfmha::DecodeClusterPolicy::Off;
  if (dv.cluster == 2) v.ov.cluster = ptxfmha::DecodeClusterPolicy::Force;
  if (dv.num_splits > 0) a.num_splits = dv.num_splits;
  v.ov.tma = dv.tma;
  return v;
}

bool plain_call(const Case& c) { return c.kv_elem_bytes == 2 && c.variant.empty(); }

// What the library planned for the cell: the split row it runs (the label: the warpgroup row,
// the wide d64 twin, the two-heads row or the cluster twin where it takes one) and the JSON's
// `splits` / `split_ctas` / `cpasync` (the producer: cp.async where the row has it and the cache
// suits it, unless the call's tma override; else TMA).
void adopt_plan(const ptxfmha::DecodePlan& lp, OursPlan* plan) {
  if (lp.split_row != nullptr) plan->kernel = lp.split_row;
  plan->splits = lp.num_splits;
  plan->split_ctas = lp.split_ctas();
  plan->cpasync = lp.cpasync ? 1 : 0;
}

class DecodeFamily final : public Family {
 public:
  DecodeFamily(const char* id, int kv_bytes) : id_(id), kv_bytes_(kv_bytes) {}
  const char* id() const override { return id_; }

  std::string ours_prepare(const Case& c, const SetView& set0, OursPlan* plan) const override {
    plan->kernel = ptxfmha::find_kernel(g_dev.sm, ptxfmha::KernelKind::Decode, int(c.head_dim));
    if (!plan->kernel) return no_kernel_message(c, ptxfmha::KernelKind::Decode, "decode");
    if (ptxfmha_decode == nullptr || ptxfmha_decode_workspace_size == nullptr)
      return "libptxfmha has a decode kernel row but no ptxfmha_decode entry point yet";
    if (c.heads_kv > kMaxScaleHeads) return "more KV heads than the bench's e4m3 scale arrays";
    // Workspace for split-KV partials, one per rotation set (rounded to 256 bytes).
    ptxfmha_decode_params d = decode_params(c, *plan, set0);
    d.workspace = nullptr;
    d.workspace_bytes = 0;
    uint64_t ws = 0;
    std::string e;
    if (plain_call(c)) {
      // The public workspace query as a user calls it; the plan (not timed, at setup) for the label.
      e = status_message("ptxfmha_decode_workspace_size", ptxfmha_decode_workspace_size(&d, &ws));
      ptxfmha::DecodePlan lib_plan;
      if (ptxfmha::decode_plan(&d, &lib_plan) == PTXFMHA_OK) adopt_plan(lib_plan, plan);
    } else {
      const VariantCall v = variant_call(c, d);
      ptxfmha::DecodePlan lib_plan;
      e = status_message("ptxfmha_decode_attn_workspace_size (variant)",
                         ptxfmha::decode_attn_with_overrides(&v.a, v.ov, false, &ws, &lib_plan));
      if (e.empty()) adopt_plan(lib_plan, plan);
      plan->forced = true;
    }
    if (e.empty()) plan->ws_bytes = (ws + 255) & ~uint64_t(255);
    return e;
  }

  std::string ours_launch(const Case& c, const OursPlan& plan, const SetView& v) const override {
    const ptxfmha_decode_params d = decode_params(c, plan, v);
    if (plain_call(c)) return status_message("ptxfmha_decode", ptxfmha_decode(&d));
    const VariantCall call = variant_call(c, d);
    return status_message("ptxfmha_decode_attn (variant)",
                          ptxfmha::decode_attn_with_overrides(&call.a, call.ov, true, nullptr));
  }

  SdpaProblem cudnn_problem(const Case& c) const override {
    SdpaProblem p = Family::cudnn_problem(c);
    if (c.paged()) {
      decode_cache_strides(c, p.k_stride);
      decode_cache_strides(c, p.v_stride);
      p.page_size = c.page_size;
      p.num_pages = c.num_pages();
      p.table_cols = c.blocks_per_seq();
    }
    p.kv_e4m3 = kv_bytes_ == 1;
    return p;
  }

 private:
  const char* id_;
  int kv_bytes_;
};

const FamilyRegistrar kDecode(std::make_unique<DecodeFamily>("decode", 2));
const FamilyRegistrar kDecodeE4m3(std::make_unique<DecodeFamily>("decode_e4m3", 1));

}  // namespace
}  // namespace ptxfmha_bench
