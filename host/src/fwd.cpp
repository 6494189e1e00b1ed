// The forward's one launch path: ptxfmha_fwd (validate -> context/arch -> kernel row) and
// ptxfmha_attn with features (attn.cpp: validate -> device -> row) both build a FwdCall and
// run launch_fwd_call: module -> tensor maps -> launch plan (fwd_plan.h) -> the row's
// parameter block (FwdKernelParams, or AttnKernelParams for the feature rows) -> launch.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <exception>
#include <new>

#include "attn.h"
#include "attn_kernel_abi.h"
#include "context.h"
#include "device_range.h"
#include "fwd.h"
#include "fwd_plan.h"
#include "kernel_abi.h"
#include "kernel_lookup.h"
#include "kernel_table.h"
#include "launch.h"
#include "module_cache.h"
#include "ptxfmha/ptxfmha.h"
#include "status.h"
#include "tensor_map.h"
#include "tile_counter.h"
#include "validate.h"
#include "validate_attn.h"

namespace ptxfmha {
namespace {

constexpr double kLog2e = 1.4426950408889634;  // log2(e)

int log2_of(int x) {
  int s = 0;
  while ((1 << (s + 1)) <= x) ++s;
  return s;
}

// Everything the launch path needs of one call, whichever entry point made it.
struct FwdCall {
  const KernelInfo* row = nullptr;
  TensorView views[4];          // q, k, v, o: the tensor maps' views
  FwdShape shape;               // the plan's inputs
  unsigned kv_box_rows = 0;     // K / V TMA box rows (block_n; paged: min(page_size, block_n))
  void* o = nullptr;
  float* lse = nullptr;
  int64_t o_strides[3] = {0, 0, 0};
  float softmax_scale = 0;
  CUstream stream = nullptr;
  // The feature rows' extension (AttnKernelParams past the plain block).
  const ptxfmha_attn_params* attn = nullptr;  // null: a plain call (features 0)
  AttnExtFields ext;
};

// The feature block of a plain ptxfmha_fwd call on a feature row: every feature off, the
// causal flag as the window's right bound, the fixed layouts' LSE and O strides.
AttnExtFields plain_ext_fields(const ptxfmha_fwd_params& p, const KernelInfo& row) {
  AttnExtFields e;
  e.window_left = INT32_MAX;
  e.window_right1 = p.causal ? 1 : INT32_MAX;
  e.alibi_mul = static_cast<float>(-1.0 / static_cast<double>(p.softmax_scale));
  e.lse_head_stride = p.seqlen_q;
  e.lse_batch_stride = p.heads_q * p.seqlen_q;
  e.o_seqbase_stride = p.o_batch_stride;
  e.box_shift = log2_of(row.block_n);
  return e;
}

// A 1-row view in place of a packed tensor without rows (never read: every sequence of it is
// empty, so no tile loads from it), so that its tensor map can still be encoded.
TensorView nonempty(TensorView v) {
  if (v.dims[1] == 0) v.dims[1] = 1;
  return v;
}

ptxfmha_status launch_fwd_call(const DeviceInfo& dev, const FwdCall& c) {
  const KernelInfo& row = *c.row;
  const bool ext_block = row.param_bytes == static_cast<int>(sizeof(AttnKernelParams));
  if (!ext_block && row.param_bytes != static_cast<int>(sizeof(FwdKernelParams)))
    return fail(PTXFMHA_ERR_CUBIN_INVALID,
                "kernel table row %s declares a %d-byte parameter block; the host knows %zu "
                "(FwdKernelParams) and %zu (AttnKernelParams)",
                row.name, row.param_bytes, sizeof(FwdKernelParams), sizeof(AttnKernelParams));
  if (!ext_block && c.ext.features != 0)
    return fail(PTXFMHA_ERR_CUBIN_INVALID, "kernel table row %s takes no feature block (features %s)",
                row.name, attn_feature_names(c.ext.features).c_str());

  LoadedKernel k;
  ptxfmha_status st = get_kernel(dev, row, &k);
  if (st != PTXFMHA_OK) return st;

  // The tensor maps, then the launch plan (fwd_plan.h): tiles, head grouping, schedule and
  // grid. Only a persistent kernel whose tiles differ in cost asks for the stream's tile
  // counter (0 while the stream is being captured).
  const FwdTmaBoxes box = plan_fwd_tma_boxes(row, c.shape);
  AttnKernelParams ap;
  std::memset(&ap, 0, sizeof ap);
  FwdKernelParams& kp = ap.base;
  st = encode_tensor_map(nonempty(c.views[0]), box.cols, box.rows_q, &kp.tma_q);
  if (st == PTXFMHA_OK) st = encode_tensor_map(nonempty(c.views[1]), box.cols, c.kv_box_rows, &kp.tma_k);
  if (st == PTXFMHA_OK) st = encode_tensor_map(nonempty(c.views[2]), box.cols, c.kv_box_rows, &kp.tma_v);
  if (st == PTXFMHA_OK) st = encode_tensor_map(nonempty(c.views[3]), box.cols, box.rows_o, &kp.tma_o);
  if (st != PTXFMHA_OK) return st;

  CUdeviceptr counter = 0;
  if (fwd_wants_tile_counter(row, c.shape)) {
    st = tile_counter(dev, c.stream, &counter);
    if (st != PTXFMHA_OK) return st;
  }
  const FwdLaunchPlan plan = plan_fwd(row, c.shape, dev, counter != 0);

  kp.o_ptr = reinterpret_cast<uintptr_t>(c.o);
  kp.lse_ptr = reinterpret_cast<uintptr_t>(c.lse);
  kp.o_batch_stride = c.o_strides[0];
  kp.o_seq_stride = c.o_strides[1];
  kp.o_head_stride = c.o_strides[2];
  kp.seqlen_q = c.shape.seqlen_q;
  kp.seqlen_k = c.shape.seqlen_k;
  kp.heads_q = c.shape.heads_q;
  kp.gqa_ratio = c.shape.heads_q / c.shape.heads_kv;
  kp.causal = c.shape.causal ? 1 : 0;
  kp.num_m_blocks = static_cast<int32_t>(plan.num_m_blocks);
  kp.scale_log2 = static_cast<float>(static_cast<double>(c.softmax_scale) * kLog2e);
  kp.batch = c.shape.batch;
  kp.total_tiles = static_cast<int32_t>(plan.total_tiles);
  kp.head_group = plan.head_group;
  kp.tile_counter = plan.use_tile_counter ? counter : 0;
  if (ext_block) {
    const AttnExtFields& e = c.ext;
    if (c.attn != nullptr) {
      const ptxfmha_attn_params& a = *c.attn;
      ap.cu_seqlens_q_ptr = reinterpret_cast<uintptr_t>(a.cu_seqlens_q);
      ap.cu_seqlens_k_ptr = reinterpret_cast<uintptr_t>(a.cu_seqlens_k);
      ap.seqused_k_ptr = reinterpret_cast<uintptr_t>(a.seqused_k);
      ap.block_table_ptr = reinterpret_cast<uintptr_t>(a.block_table);
      ap.sink_logits_ptr = reinterpret_cast<uintptr_t>(a.sink_logits);
      ap.alibi_slopes_ptr = reinterpret_cast<uintptr_t>(a.alibi_slopes);
      ap.total_q = a.total_q;
      ap.total_k = a.total_k;
      ap.max_blocks_per_seq = a.max_blocks_per_seq;
      ap.num_pages = a.num_pages;
    }
    ap.features = e.features;
    ap.window_left = e.window_left;
    ap.window_right1 = e.window_right1;
    ap.softcap_pre = e.softcap_pre;
    ap.softcap_post = e.softcap_post;
    ap.page_shift = e.page_shift;
    ap.lse_head_stride = e.lse_head_stride;
    ap.lse_batch_stride = e.lse_batch_stride;
    ap.box_shift = e.box_shift;
    ap.alibi_mul = e.alibi_mul;
    ap.o_seqbase_stride = e.o_seqbase_stride;
  }

  LaunchDims dims;
  for (int i = 0; i < 3; ++i) dims.grid[i] = plan.grid[i];
  dims.block[0] = plan.block_threads;
  dims.smem_bytes = plan.smem_bytes;
  dims.stream = c.stream;
  return launch_kernel(k.function, dims, &ap, row.name);
}

ptxfmha_status fwd_impl(const ptxfmha_fwd_params* p, const KernelInfo* forced) {
  ptxfmha_status st = validate_fwd_shape(p);
  if (st != PTXFMHA_OK) return st;
  DeviceInfo dev;
  st = acquire_device(&dev);
  if (st != PTXFMHA_OK) return st;
  st = validate_fwd_head_dim(*p, dev.sm);
  if (st != PTXFMHA_OK) return st;
  const KernelInfo* row = find_kernel(dev.sm, KernelKind::Fwd, p->head_dim);
  if (forced != nullptr) {
    if (forced->kind != KernelKind::Fwd || std::strcmp(forced->arch, dev.arch) != 0 ||
        forced->head_dim != p->head_dim)
      return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                  "kernel %s (%s, head_dim %d) cannot run this call: the device is %s, head_dim %d",
                  forced->name, forced->arch, forced->head_dim, dev.arch, p->head_dim);
    row = forced;
  }

  FwdCall c;
  c.row = row;
  c.views[0] = fwd_q_view(*p);
  c.views[1] = fwd_k_view(*p);
  c.views[2] = fwd_v_view(*p);
  c.views[3] = fwd_o_view(*p);
  for (const TensorView& t : c.views) {
    uint64_t lo = 0, hi = 0;
    tensor_byte_extent(t, &lo, &hi);  // validated above
    st = check_device_range(t.name, lo, hi);
    if (st != PTXFMHA_OK) return st;
  }
  const int64_t rows_q = int64_t(p->batch) * p->heads_q * p->seqlen_q;
  if (p->lse != nullptr) {
    const uint64_t lo = reinterpret_cast<uintptr_t>(p->lse);
    st = check_device_range("lse", lo, lo + static_cast<uint64_t>(rows_q) * sizeof(float));
    if (st != PTXFMHA_OK) return st;
  }
  c.shape = fwd_shape(*p);
  c.kv_box_rows = static_cast<unsigned>(row->block_n);
  c.o = p->o;
  c.lse = p->lse;
  c.o_strides[0] = p->o_batch_stride;
  c.o_strides[1] = p->o_seq_stride;
  c.o_strides[2] = p->o_head_stride;
  c.softmax_scale = p->softmax_scale;
  c.stream = static_cast<CUstream>(p->stream);
  c.ext = plain_ext_fields(*p, *row);
  return launch_fwd_call(dev, c);
}

}  // namespace

const KernelInfo* find_attn_row(int sm, int head_dim, uint32_t features) {
  const char* arch = sm >= 10 ? arch_for_cc(sm / 10, sm % 10) : nullptr;
  if (arch == nullptr) return nullptr;
  const KernelInfo* best = nullptr;
  for (const KernelInfo* r : all_kernels()) {
    if (r->kind != KernelKind::Fwd || r->head_dim != head_dim || std::strcmp(r->arch, arch) != 0) continue;
    if ((r->features & features) != features) continue;
    const int extra = __builtin_popcount(r->features & ~features);
    if (best == nullptr || extra < __builtin_popcount(best->features & ~features)) best = r;
  }
  return best;
}

AttnExtFields attn_ext_fields(const ptxfmha_attn_params& p, uint32_t features, const KernelInfo& row) {
  AttnExtFields e;
  e.features = features;
  const AttnWindow w = canonical_window(p.causal, p.window_left, p.window_right, attn_max_len_q(p),
                                        attn_max_len_k(p));
  e.window_left = w.left >= 0 ? w.left : INT32_MAX;
  e.window_right1 = w.right >= 0 ? w.right + 1 : INT32_MAX;  // right <= 2^31 - 258 (validated)
  const double scale = static_cast<double>(p.softmax_scale);
  if (p.softcap > 0.0f) {
    e.softcap_pre = static_cast<float>(scale / static_cast<double>(p.softcap));
    e.softcap_post = static_cast<float>(static_cast<double>(p.softcap) / scale);
  }
  e.alibi_mul = static_cast<float>(-1.0 / scale);
  const bool varlen_q = attn_varlen_q(p);
  e.lse_head_stride = varlen_q ? p.total_q : p.seqlen_q;
  e.lse_batch_stride = varlen_q ? 1 : p.heads_q * p.seqlen_q;
  e.o_seqbase_stride = varlen_q ? p.o_seq_stride : p.o_batch_stride;
  if (attn_paged(p)) {
    e.page_shift = log2_of(p.page_size);
    e.box_shift = std::min(e.page_shift, log2_of(row.block_n));
  } else {
    e.box_shift = log2_of(row.block_n);
  }
  return e;
}

ptxfmha_status attn_launch(const ptxfmha_attn_params& p, const DeviceInfo& dev, const KernelInfo& row) {
  const uint32_t features = attn_features(p);
  FwdCall c;
  c.row = &row;
  c.views[0] = attn_q_view(p);
  c.views[1] = attn_k_view(p);
  c.views[2] = attn_v_view(p);
  c.views[3] = attn_o_view(p);
  const AttnWindow w = canonical_window(p.causal, p.window_left, p.window_right, attn_max_len_q(p),
                                        attn_max_len_k(p));
  FwdShape& s = c.shape;
  s.batch = p.batch;
  s.seqlen_q = attn_max_len_q(p);
  s.seqlen_k = attn_max_len_k(p);
  s.heads_q = p.heads_q;
  s.heads_kv = p.heads_kv;
  s.head_dim = p.head_dim;
  s.causal = w.right >= 0;
  s.varlen_q = attn_varlen_q(p);
  s.total_q = p.total_q;
  s.uneven = (features & (kAttnVarlenQ | kAttnVarlenK | kAttnSequsedK | kAttnWindow)) != 0;
  c.ext = attn_ext_fields(p, features, row);
  c.kv_box_rows = 1u << c.ext.box_shift;
  c.o = p.o;
  c.lse = p.lse;
  c.o_strides[0] = p.o_batch_stride;
  c.o_strides[1] = p.o_seq_stride;
  c.o_strides[2] = p.o_head_stride;
  c.softmax_scale = p.softmax_scale;
  c.stream = static_cast<CUstream>(p.stream);
  c.attn = &p;
  return launch_fwd_call(dev, c);
}

ptxfmha_status fwd_with_row(const ptxfmha_fwd_params* params, const KernelInfo* row) {
  try {
    return fwd_impl(params, row);
  } catch (const std::bad_alloc&) {
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "ptxfmha_fwd: out of host memory");
  } catch (const std::exception& e) {
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "ptxfmha_fwd: internal error: %s", e.what());
  }
}

}  // namespace ptxfmha

extern "C" PTXFMHA_API ptxfmha_status ptxfmha_fwd(const ptxfmha_fwd_params* params) {
  return ptxfmha::fwd_with_row(params, nullptr);
}
