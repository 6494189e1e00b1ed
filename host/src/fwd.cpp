// ptxfmha_fwd: validate -> context/arch -> kernel row -> module -> tensor maps -> launch plan
// (fwd_plan.h) -> launch.
#include <cstring>
#include <exception>
#include <new>

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

namespace ptxfmha {
namespace {

constexpr double kLog2e = 1.4426950408889634;  // log2(e)

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
  if (row->param_bytes != static_cast<int>(sizeof(FwdKernelParams)))
    return fail(PTXFMHA_ERR_CUBIN_INVALID,
                "kernel table row %s declares a %d-byte parameter block, the host ABI is %zu bytes",
                row->name, row->param_bytes, sizeof(FwdKernelParams));

  const TensorView views[4] = {fwd_q_view(*p), fwd_k_view(*p), fwd_v_view(*p), fwd_o_view(*p)};
  for (const TensorView& t : views) {
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

  LoadedKernel k;
  st = get_kernel(dev, *row, &k);
  if (st != PTXFMHA_OK) return st;

  // The tensor maps, then the launch plan (fwd_plan.h): tiles, head grouping, schedule and
  // grid. Only a causal persistent kernel asks for the stream's tile counter (0 while the
  // stream is being captured).
  const FwdShape shape = fwd_shape(*p);
  const FwdTmaBoxes box = plan_fwd_tma_boxes(*row, shape);
  FwdKernelParams kp;
  std::memset(&kp, 0, sizeof kp);
  st = encode_tensor_map(views[0], box.cols, box.rows_q, &kp.tma_q);
  if (st == PTXFMHA_OK) st = encode_tensor_map(views[1], box.cols, box.rows_kv, &kp.tma_k);
  if (st == PTXFMHA_OK) st = encode_tensor_map(views[2], box.cols, box.rows_kv, &kp.tma_v);
  if (st == PTXFMHA_OK) st = encode_tensor_map(views[3], box.cols, box.rows_o, &kp.tma_o);
  if (st != PTXFMHA_OK) return st;

  CUdeviceptr counter = 0;
  if (fwd_wants_tile_counter(*row, shape)) {
    st = tile_counter(dev, static_cast<CUstream>(p->stream), &counter);
    if (st != PTXFMHA_OK) return st;
  }
  const FwdLaunchPlan plan = plan_fwd(*row, shape, dev, counter != 0);

  kp.o_ptr = reinterpret_cast<uintptr_t>(p->o);
  kp.lse_ptr = reinterpret_cast<uintptr_t>(p->lse);
  kp.o_batch_stride = p->o_batch_stride;
  kp.o_seq_stride = p->o_seq_stride;
  kp.o_head_stride = p->o_head_stride;
  kp.seqlen_q = p->seqlen_q;
  kp.seqlen_k = p->seqlen_k;
  kp.heads_q = p->heads_q;
  kp.gqa_ratio = p->heads_q / p->heads_kv;
  kp.causal = p->causal;
  kp.num_m_blocks = static_cast<int32_t>(plan.num_m_blocks);
  kp.scale_log2 = static_cast<float>(static_cast<double>(p->softmax_scale) * kLog2e);
  kp.batch = p->batch;
  kp.total_tiles = static_cast<int32_t>(plan.total_tiles);
  kp.head_group = plan.head_group;
  kp.tile_counter = plan.use_tile_counter ? counter : 0;

  LaunchDims dims;
  for (int i = 0; i < 3; ++i) dims.grid[i] = plan.grid[i];
  dims.block[0] = plan.block_threads;
  dims.smem_bytes = plan.smem_bytes;
  dims.stream = static_cast<CUstream>(p->stream);
  return launch_kernel(k.function, dims, &kp, row->name);
}

}  // namespace

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
