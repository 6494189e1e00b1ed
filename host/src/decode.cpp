// ptxfmha_decode and ptxfmha_decode_workspace_size: validation, device checks, launches (the
// pure launch plan is decode_plan.cpp). See decode.h for the flow and the list of checks,
// ptx/body/sm90_decode/kernel.ptxh and combine.ptxh for the kernels.
#include "decode.h"

#include <cinttypes>
#include <cmath>
#include <cstring>
#include <exception>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>

#include "context.h"
#include "decode_abi.h"
#include "device_range.h"
#include "driver.h"
#include "kernel_lookup.h"
#include "launch.h"
#include "module_cache.h"
#include "status.h"
#include "tensor_map.h"
#include "validate.h"

namespace ptxfmha {

namespace {

constexpr double kLog2e = 1.4426950408889634;
constexpr int64_t kMaxGridYZ = 65535;
constexpr int kBoxColsElems = 64;           // 128-byte swizzle span of bf16
constexpr int64_t kMaxKeys = INT32_MAX - 64;  // 32-bit key indices in the kernels

bool is_pow2(int64_t x) { return x > 0 && (x & (x - 1)) == 0; }
bool overlaps(uint64_t a_lo, uint64_t a_hi, uint64_t b_lo, uint64_t b_hi) {
  return a_lo < b_hi && b_lo < a_hi;
}

struct Range {
  const char* name;
  uint64_t lo, hi;  // hi == lo: absent
};

Range lse_range(const ptxfmha_decode_params& p) {
  const uint64_t lo = reinterpret_cast<uintptr_t>(p.lse);
  return {"lse", lo, p.lse ? lo + static_cast<uint64_t>(decode_out_rows(p)) * sizeof(float) : lo};
}
Range seqlens_range(const ptxfmha_decode_params& p) {
  const uint64_t lo = reinterpret_cast<uintptr_t>(p.seqlens_k);
  return {"seqlens_k", lo, p.seqlens_k ? lo + uint64_t(p.batch) * sizeof(int32_t) : lo};
}
Range table_range(const ptxfmha_decode_params& p) {
  const uint64_t lo = reinterpret_cast<uintptr_t>(p.block_table);
  return {"block_table", lo,
          p.block_table ? lo + uint64_t(p.batch) * uint64_t(p.max_blocks_per_seq) * sizeof(int32_t)
                        : lo};
}
Range view_range(const TensorView& t) {
  Range r{t.name, 0, 0};
  tensor_byte_extent(t, &r.lo, &r.hi);  // callers validated the view first
  return r;
}

}  // namespace

TensorView decode_q_view(const ptxfmha_decode_params& p) {
  return {"q", p.q, {p.batch, p.seqlen_q, p.heads_q, p.head_dim},
          {p.q_batch_stride, p.q_seq_stride, p.q_head_stride}, 2};
}
TensorView decode_o_view(const ptxfmha_decode_params& p) {
  return {"o", p.o, {p.batch, p.seqlen_q, p.heads_q, p.head_dim},
          {p.o_batch_stride, p.o_seq_stride, p.o_head_stride}, 2};
}
TensorView decode_k_view(const ptxfmha_decode_params& p) {
  if (p.block_table != nullptr)
    return {"k", p.k_cache, {p.num_pages, p.page_size, p.heads_kv, p.head_dim},
            {p.k_batch_stride, p.k_seq_stride, p.k_head_stride}, 2};
  return {"k", p.k_cache, {p.batch, p.max_seqlen_k, p.heads_kv, p.head_dim},
          {p.k_batch_stride, p.k_seq_stride, p.k_head_stride}, 2};
}
TensorView decode_v_view(const ptxfmha_decode_params& p) {
  if (p.block_table != nullptr)
    return {"v", p.v_cache, {p.num_pages, p.page_size, p.heads_kv, p.head_dim},
            {p.v_batch_stride, p.v_seq_stride, p.v_head_stride}, 2};
  return {"v", p.v_cache, {p.batch, p.max_seqlen_k, p.heads_kv, p.head_dim},
          {p.v_batch_stride, p.v_seq_stride, p.v_head_stride}, 2};
}

ptxfmha_status validate_decode_shape(const ptxfmha_decode_params* p) {
  if (p == nullptr) return fail(PTXFMHA_ERR_NULL_POINTER, "params is NULL");
  ptxfmha_status st = require_non_null(
      {{p->q, "q"}, {p->k_cache, "k_cache"}, {p->v_cache, "v_cache"}, {p->o, "o"}});
  if (st != PTXFMHA_OK) return st;
  st = require_positive({{p->batch, "batch"}, {p->seqlen_q, "seqlen_q"},
                         {p->max_seqlen_k, "max_seqlen_k"}, {p->heads_q, "heads_q"},
                         {p->heads_kv, "heads_kv"}, {p->head_dim, "head_dim"}});
  if (st != PTXFMHA_OK) return st;
  if (p->seqlen_q > kDecodeMaxSeqlenQ)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "seqlen_q = %d exceeds the decode limit of %d query tokens per sequence "
                "(use ptxfmha_fwd for longer queries)",
                p->seqlen_q, kDecodeMaxSeqlenQ);
  if (p->heads_q % p->heads_kv != 0)
    return fail(PTXFMHA_ERR_GQA_RATIO, "heads_q = %d is not a multiple of heads_kv = %d",
                p->heads_q, p->heads_kv);

  const struct {
    const void* ptr;
    const char* name;
    unsigned align;
  } aligned[] = {{p->q, "q", 16},          {p->k_cache, "k_cache", 16},
                 {p->v_cache, "v_cache", 16}, {p->o, "o", 16},
                 {p->lse, "lse", 4},        {p->seqlens_k, "seqlens_k", 4},
                 {p->block_table, "block_table", 4}, {p->workspace, "workspace", 16}};
  for (const auto& e : aligned)
    if (reinterpret_cast<uintptr_t>(e.ptr) % e.align != 0)
      return fail(PTXFMHA_ERR_MISALIGNED_POINTER, "%s = %p is not %u-byte aligned", e.name, e.ptr,
                  e.align);

  if (!std::isfinite(p->softmax_scale) || !(p->softmax_scale > 0.0f))
    return fail(PTXFMHA_ERR_INVALID_SCALE, "softmax_scale = %g must be finite and > 0",
                static_cast<double>(p->softmax_scale));
  if (p->causal != 0 && p->causal != 1)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "causal = %d must be 0 or 1", p->causal);
  if (p->num_splits < 0 || p->num_splits > kDecodeMaxSplits)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "num_splits = %d must be 0 (chosen by the library) or 1..%d", p->num_splits,
                kDecodeMaxSplits);

  if (p->block_table != nullptr) {
    if (!is_pow2(p->page_size) || p->page_size < kDecodeMinPageSize ||
        p->page_size > kDecodeMaxPageSize)
      return fail(PTXFMHA_ERR_INVALID_PAGE_TABLE,
                  "page_size = %d must be a power of two in [%d, %d]", p->page_size,
                  kDecodeMinPageSize, kDecodeMaxPageSize);
    if (p->max_blocks_per_seq < 1)
      return fail(PTXFMHA_ERR_INVALID_PAGE_TABLE, "max_blocks_per_seq = %d must be >= 1",
                  p->max_blocks_per_seq);
    if (p->num_pages < 1)
      return fail(PTXFMHA_ERR_INVALID_PAGE_TABLE, "num_pages = %d must be >= 1", p->num_pages);
    if (int64_t(p->max_blocks_per_seq) * p->page_size < p->max_seqlen_k)
      return fail(PTXFMHA_ERR_INVALID_PAGE_TABLE,
                  "max_blocks_per_seq * page_size = %d * %d = %" PRId64
                  " pages' worth of tokens is less than max_seqlen_k = %d",
                  p->max_blocks_per_seq, p->page_size,
                  int64_t(p->max_blocks_per_seq) * p->page_size, p->max_seqlen_k);
  }

  if (p->batch > kMaxGridYZ)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW, "batch = %d exceeds %d (grid z dimension)", p->batch,
                static_cast<int>(kMaxGridYZ));
  if (p->max_seqlen_k > kMaxKeys)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW,
                "max_seqlen_k = %d exceeds %" PRId64 " (the kernels index keys in 32 bits)",
                p->max_seqlen_k, kMaxKeys);
  if (decode_out_rows(*p) > INT32_MAX)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW,
                "batch * heads_q * seqlen_q = %d * %d * %d = %" PRId64
                " query rows exceed 2^31-1 (kernels index O/LSE rows in 32 bits)",
                p->batch, p->heads_q, p->seqlen_q, decode_out_rows(*p));
  if (p->block_table != nullptr && int64_t(p->batch) * p->max_blocks_per_seq > INT32_MAX)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW,
                "batch * max_blocks_per_seq = %d * %d block-table entries exceed 2^31-1",
                p->batch, p->max_blocks_per_seq);

  const TensorView views[4] = {decode_q_view(*p), decode_k_view(*p), decode_v_view(*p),
                               decode_o_view(*p)};
  for (const TensorView& t : views) {
    ptxfmha_status st = validate_tensor(t);
    if (st != PTXFMHA_OK) return st;
  }
  // Outputs must not overlap inputs (the kernels read inputs while writing outputs).
  const Range q = view_range(views[0]), k = view_range(views[1]), v = view_range(views[2]);
  const Range o = view_range(views[3]);
  Range lse = lse_range(*p), sl = seqlens_range(*p), bt = table_range(*p);
  if (p->lse != nullptr && lse.hi < lse.lo)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW, "lse = %p plus its extent overflows the address space",
                static_cast<const void*>(p->lse));
  const Range inputs[5] = {q, {"k_cache", k.lo, k.hi}, {"v_cache", v.lo, v.hi}, sl, bt};
  for (const Range& in : inputs) {
    if (in.hi == in.lo) continue;
    if (overlaps(o.lo, o.hi, in.lo, in.hi))
      return fail(PTXFMHA_ERR_ALIASING,
                  "o (bytes [0x%" PRIx64 ", 0x%" PRIx64 ")) overlaps %s (bytes [0x%" PRIx64
                  ", 0x%" PRIx64 "))",
                  o.lo, o.hi, in.name, in.lo, in.hi);
  }
  if (p->lse != nullptr) {
    const Range others[6] = {o, q, {"k_cache", k.lo, k.hi}, {"v_cache", v.lo, v.hi}, sl, bt};
    for (const Range& in : others) {
      if (in.hi == in.lo) continue;
      if (overlaps(lse.lo, lse.hi, in.lo, in.hi))
        return fail(PTXFMHA_ERR_ALIASING,
                    "lse (bytes [0x%" PRIx64 ", 0x%" PRIx64 ")) overlaps %s (bytes [0x%" PRIx64
                    ", 0x%" PRIx64 "))",
                    lse.lo, lse.hi, in.name, in.lo, in.hi);
    }
  }
  return PTXFMHA_OK;
}

namespace {

// Resident split CTAs per SM (cuOccupancyMaxActiveBlocksPerMultiprocessor), cached per loaded
// function: the module cache keeps every CUfunction alive for its context's lifetime, and the
// answer depends only on the function and the row's threads / shared memory.
ptxfmha_status split_ctas_per_sm(const KernelInfo& row, CUfunction f, int* per_sm) {
  static std::mutex mutex;
  static std::map<CUfunction, int> cache;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache.find(f);
    if (it != cache.end()) {
      *per_sm = it->second;
      return PTXFMHA_OK;
    }
  }
  int n = 0;
  CUresult r = drv().cuOccupancyMaxActiveBlocksPerMultiprocessor(&n, f, row.threads,
                                                                  static_cast<size_t>(row.smem_bytes));
  if (r != CUDA_SUCCESS) return fail_cuda(r, "cuOccupancyMaxActiveBlocksPerMultiprocessor");
  std::lock_guard<std::mutex> lock(mutex);
  cache[f] = n;
  *per_sm = n;
  return PTXFMHA_OK;
}

// Kernel rows and occupancy (driver queries), then the pure plan_decode, for validated params
// on the current device.
ptxfmha_status plan_decode_on_device(const ptxfmha_decode_params& p, const DeviceInfo& dev,
                                     DecodePlan* plan, LoadedKernel* split_kernel) {
  const KernelInfo* split_row = find_kernel(dev.sm, KernelKind::Decode, p.head_dim);
  const KernelInfo* combine_row = find_kernel(dev.sm, KernelKind::DecodeCombine, p.head_dim);
  plan->split_row = split_row;
  plan->combine_row = combine_row;
  if (split_row == nullptr || combine_row == nullptr)
    return fail(PTXFMHA_ERR_UNSUPPORTED_HEAD_DIM,
                "head_dim = %d has no decode kernel for sm_%d (%s); supported head_dim: %s",
                p.head_dim, dev.sm, dev.arch ? dev.arch : "no kernels for this architecture",
                head_dims_string(supported_head_dims(dev.sm, KernelKind::Decode)).c_str());
  for (const KernelInfo* r : {split_row, combine_row})
    if (r->param_bytes != static_cast<int>(sizeof(DecodeKernelParams)))
      return fail(PTXFMHA_ERR_CUBIN_INVALID,
                  "kernel table row %s declares a %d-byte parameter block, the host ABI is %zu bytes",
                  r->name, r->param_bytes, sizeof(DecodeKernelParams));
  ptxfmha_status st = get_kernel(dev, *split_row, split_kernel);
  if (st != PTXFMHA_OK) return st;
  int per_sm = 0;
  st = split_ctas_per_sm(*split_row, split_kernel->function, &per_sm);
  if (st != PTXFMHA_OK) return st;
  if (per_sm < 1)
    return fail(PTXFMHA_ERR_CUDA, "%s cannot be resident on this device (occupancy 0)",
                split_row->name);
  plan_decode(p, *split_row, *combine_row, int64_t(dev.num_sms) * per_sm, plan);
  return PTXFMHA_OK;
}

// launch == false: only computes *ws_bytes (ptxfmha_decode_workspace_size).
ptxfmha_status decode_impl(const ptxfmha_decode_params* p, bool launch, uint64_t* ws_bytes) {
  ptxfmha_status st = validate_decode_shape(p);
  if (st != PTXFMHA_OK) return st;
  DeviceInfo dev;
  st = acquire_device(&dev);
  if (st != PTXFMHA_OK) return st;
  DecodePlan plan;
  LoadedKernel split_k;
  st = plan_decode_on_device(*p, dev, &plan, &split_k);
  if (st != PTXFMHA_OK) return st;
  if (!launch) {
    *ws_bytes = plan.workspace_bytes;
    return PTXFMHA_OK;
  }

  // ---- workspace and device-side ranges ----
  if (plan.workspace_bytes > 0) {
    if (p->workspace == nullptr)
      return fail(PTXFMHA_ERR_NULL_POINTER,
                  "workspace is NULL but this problem needs %" PRIu64
                  " bytes (%d KV splits; see ptxfmha_decode_workspace_size)",
                  plan.workspace_bytes, plan.num_splits);
    if (p->workspace_bytes < plan.workspace_bytes)
      return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                  "workspace_bytes = %" PRIu64 " is less than the %" PRIu64
                  " bytes this problem needs (%d KV splits; see ptxfmha_decode_workspace_size)",
                  p->workspace_bytes, plan.workspace_bytes, plan.num_splits);
  }
  const TensorView views[4] = {decode_q_view(*p), decode_k_view(*p), decode_v_view(*p),
                               decode_o_view(*p)};
  const Range ws = {"workspace", reinterpret_cast<uintptr_t>(p->workspace),
                    reinterpret_cast<uintptr_t>(p->workspace) + plan.workspace_bytes};
  if (ws.lo > UINT64_MAX - plan.workspace_bytes)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW, "workspace plus %" PRIu64 " bytes overflows the address space",
                plan.workspace_bytes);
  const Range all[8] = {view_range(views[0]), view_range(views[1]), view_range(views[2]),
                        view_range(views[3]), lse_range(*p),        seqlens_range(*p),
                        table_range(*p),      ws};
  const char* names[8] = {"q", "k_cache", "v_cache", "o", "lse", "seqlens_k", "block_table", "workspace"};
  if (ws.hi > ws.lo) {
    for (int i = 0; i < 7; ++i) {
      if (all[i].hi > all[i].lo && overlaps(ws.lo, ws.hi, all[i].lo, all[i].hi))
        return fail(PTXFMHA_ERR_ALIASING,
                    "workspace (bytes [0x%" PRIx64 ", 0x%" PRIx64 ")) overlaps %s (bytes [0x%" PRIx64
                    ", 0x%" PRIx64 "))",
                    ws.lo, ws.hi, names[i], all[i].lo, all[i].hi);
    }
  }
  for (int i = 0; i < 8; ++i) {
    if (all[i].hi <= all[i].lo) continue;
    st = check_device_range(names[i], all[i].lo, all[i].hi);
    if (st != PTXFMHA_OK) return st;
  }

  // ---- parameter block ----
  DecodeKernelParams kp;
  std::memset(&kp, 0, sizeof kp);
  const unsigned box_rows = 1u << plan.box_shift;
  st = encode_tensor_map(views[1], kBoxColsElems, box_rows, &kp.tma_k);
  if (st != PTXFMHA_OK) return st;
  st = encode_tensor_map(views[2], kBoxColsElems, box_rows, &kp.tma_v);
  if (st != PTXFMHA_OK) return st;
  kp.q_ptr = reinterpret_cast<uintptr_t>(p->q);
  kp.o_ptr = reinterpret_cast<uintptr_t>(p->o);
  kp.lse_ptr = reinterpret_cast<uintptr_t>(p->lse);
  kp.seqlens_ptr = reinterpret_cast<uintptr_t>(p->seqlens_k);
  kp.block_table_ptr = reinterpret_cast<uintptr_t>(p->block_table);
  if (plan.num_splits > 1) {
    kp.ws_lse_ptr = ws.lo + plan.ws_lse_offset;
    kp.ws_o_ptr = ws.lo + plan.ws_o_offset;
  }
  kp.q_batch_stride = p->q_batch_stride;
  kp.q_seq_stride = p->q_seq_stride;
  kp.q_head_stride = p->q_head_stride;
  kp.o_batch_stride = p->o_batch_stride;
  kp.o_seq_stride = p->o_seq_stride;
  kp.o_head_stride = p->o_head_stride;
  kp.batch = p->batch;
  kp.seqlen_q = p->seqlen_q;
  kp.max_seqlen_k = p->max_seqlen_k;
  kp.heads_q = p->heads_q;
  kp.heads_kv = p->heads_kv;
  kp.gqa_ratio = p->heads_q / p->heads_kv;
  kp.page_shift = plan.page_shift;
  kp.max_blocks_per_seq = p->block_table ? p->max_blocks_per_seq : 0;
  kp.box_shift = plan.box_shift;
  kp.num_splits = plan.num_splits;
  kp.split_keys = plan.split_keys;
  kp.causal = p->causal;
  kp.scale_log2 = static_cast<float>(static_cast<double>(p->softmax_scale) * kLog2e);
  kp.m_groups = plan.m_groups;
  kp.packed_rows = p->seqlen_q * kp.gqa_ratio;
  kp.combine_rows = static_cast<int32_t>(decode_out_rows(*p));

  // ---- launches ----
  LaunchDims dims;
  for (int i = 0; i < 3; ++i) dims.grid[i] = plan.split_grid[i];
  dims.block[0] = static_cast<unsigned>(plan.split_row->threads);
  dims.smem_bytes = static_cast<unsigned>(plan.split_row->smem_bytes);
  dims.stream = static_cast<CUstream>(p->stream);
  st = launch_kernel(split_k.function, dims, &kp, plan.split_row->name);
  if (st != PTXFMHA_OK || plan.num_splits == 1) return st;

  LoadedKernel combine_k;
  st = get_kernel(dev, *plan.combine_row, &combine_k);
  if (st != PTXFMHA_OK) return st;
  LaunchDims cd;
  cd.grid[0] = plan.combine_grid;
  cd.block[0] = static_cast<unsigned>(plan.combine_row->threads);
  cd.smem_bytes = static_cast<unsigned>(plan.combine_row->smem_bytes);
  cd.stream = dims.stream;
  // PTXFMHA_DECODE_PDL=0 launches the combine kernel without programmatic serialization (for
  // measuring what PDL saves); anything else, or unset, uses it.
  const char* pdl = std::getenv("PTXFMHA_DECODE_PDL");
  cd.programmatic_serialization = !(pdl != nullptr && pdl[0] == '0' && pdl[1] == '\0');
  st = launch_kernel(combine_k.function, cd, &kp, plan.combine_row->name);
  if (st == PTXFMHA_OK || !cd.programmatic_serialization) return st;
  // A stream or driver that refuses programmatic serialization still gets a correct,
  // fully serialized launch (griddepcontrol.wait is then a no-op).
  clear_last_error();
  cd.programmatic_serialization = false;
  return launch_kernel(combine_k.function, cd, &kp, plan.combine_row->name);
}

}  // namespace

ptxfmha_status decode_plan(const ptxfmha_decode_params* p, DecodePlan* plan) {
  ptxfmha_status st = validate_decode_shape(p);
  if (st != PTXFMHA_OK) return st;
  DeviceInfo dev;
  st = acquire_device(&dev);
  if (st != PTXFMHA_OK) return st;
  LoadedKernel k;
  return plan_decode_on_device(*p, dev, plan, &k);
}

}  // namespace ptxfmha

extern "C" PTXFMHA_API ptxfmha_status ptxfmha_decode(const ptxfmha_decode_params* params) {
  try {
    return ptxfmha::decode_impl(params, true, nullptr);
  } catch (const std::bad_alloc&) {
    return ptxfmha::fail(PTXFMHA_ERR_INVALID_ARGUMENT, "ptxfmha_decode: out of host memory");
  } catch (const std::exception& e) {
    return ptxfmha::fail(PTXFMHA_ERR_INVALID_ARGUMENT, "ptxfmha_decode: internal error: %s", e.what());
  }
}

extern "C" PTXFMHA_API ptxfmha_status ptxfmha_decode_workspace_size(
    const ptxfmha_decode_params* params, uint64_t* bytes) {
  try {
    if (bytes == nullptr) return ptxfmha::fail(PTXFMHA_ERR_NULL_POINTER, "bytes is NULL");
    uint64_t b = 0;
    ptxfmha_status st = ptxfmha::decode_impl(params, false, &b);
    if (st == PTXFMHA_OK) *bytes = b;
    return st;
  } catch (const std::bad_alloc&) {
    return ptxfmha::fail(PTXFMHA_ERR_INVALID_ARGUMENT, "ptxfmha_decode_workspace_size: out of host memory");
  } catch (const std::exception& e) {
    return ptxfmha::fail(PTXFMHA_ERR_INVALID_ARGUMENT, "ptxfmha_decode_workspace_size: internal error: %s",
                         e.what());
  }
}
