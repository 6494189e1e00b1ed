// ptxfmha_fwd: validate -> context/arch -> kernel row -> module -> tensor maps -> launch.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <new>

#include "context.h"
#include "device_range.h"
#include "fwd.h"
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
// Inner (head_dim) box of every tensor map: 64 bf16 = 128 bytes, the 128B-swizzle span.
// Narrower heads (head_dim < 64) get a box as wide as the head.
constexpr int kBoxColsElems = 64;
// Rows of the O tensor map's box: the sm_90a epilogue stores each warp's 16 rows with TMA.
constexpr int kOBoxRows = 16;

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

  FwdKernelParams kp;
  std::memset(&kp, 0, sizeof kp);
  const unsigned box_cols = static_cast<unsigned>(p->head_dim < kBoxColsElems ? p->head_dim : kBoxColsElems);
  st = encode_tensor_map(views[0], box_cols, static_cast<unsigned>(row->block_m), &kp.tma_q);
  if (st == PTXFMHA_OK)
    st = encode_tensor_map(views[1], box_cols, static_cast<unsigned>(row->block_n), &kp.tma_k);
  if (st == PTXFMHA_OK)
    st = encode_tensor_map(views[2], box_cols, static_cast<unsigned>(row->block_n), &kp.tma_v);
  if (st == PTXFMHA_OK)
    st = encode_tensor_map(views[3], box_cols, static_cast<unsigned>(kOBoxRows), &kp.tma_o);
  if (st != PTXFMHA_OK) return st;

  const int64_t num_m_blocks = (int64_t(p->seqlen_q) + row->block_m - 1) / row->block_m;
  const int64_t total_tiles = num_m_blocks * p->heads_q * p->batch;  // <= rows_q < 2^31
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
  kp.num_m_blocks = static_cast<int32_t>(num_m_blocks);
  kp.scale_log2 = static_cast<float>(static_cast<double>(p->softmax_scale) * kLog2e);
  kp.batch = p->batch;
  kp.total_tiles = static_cast<int32_t>(total_tiles);
  kp.head_group = 1;

  LaunchDims dims;
  if (row->grid == KernelInfo::Grid::TileLoop) {
    // 1-D persistent grid over work tiles (kernel_table.h), one CTA per SM. Causal tiles
    // differ in cost: they are taken from the stream's tile counter, heaviest first inside
    // groups of (head, batch) pairs whose K and V fit in half the L2 (CTAs working at the
    // same time share them); without a counter (graph capture) causal gets one CTA per
    // tile, which the hardware balances. Non-causal tiles cost the same: static round robin
    // over m-block-fastest order.
    CUdeviceptr counter = 0;
    if (p->causal) {
      st = tile_counter(dev, static_cast<CUstream>(p->stream), &counter);
      if (st != PTXFMHA_OK) return st;
      const int64_t kv_bytes_per_pair = 2 * int64_t(p->seqlen_k) * p->head_dim * 2;
      const int64_t budget = dev.l2_bytes > 0 ? dev.l2_bytes / 2 : (int64_t(25) << 20);
      int64_t group = budget / kv_bytes_per_pair;
      group = std::max<int64_t>(1, std::min<int64_t>(group, int64_t(p->heads_q) * p->batch));
      kp.head_group = static_cast<int32_t>(group);
    }
    kp.tile_counter = counter;
    int64_t ctas = total_tiles;
    if ((!p->causal || counter != 0) && dev.num_sms > 0 && ctas > dev.num_sms) ctas = dev.num_sms;
    dims.grid[0] = static_cast<unsigned>(ctas);
    dims.grid[1] = 1;
    dims.grid[2] = 1;
  } else {
    dims.grid[0] = static_cast<unsigned>(num_m_blocks);
    dims.grid[1] = static_cast<unsigned>(p->heads_q);
    dims.grid[2] = static_cast<unsigned>(p->batch);
  }
  dims.block[0] = static_cast<unsigned>(row->threads);
  dims.smem_bytes = static_cast<unsigned>(row->smem_bytes);
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
