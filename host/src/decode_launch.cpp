// The decode launch path ptxfmha_decode and ptxfmha_decode_attn share: device, kernel rows
// (decode_rows.h), occupancy, the pure plan (decode_plan.cpp), the checks that need the plan or
// a context (workspace, device ranges, aliasing with the workspace), the parameter block
// (decode_abi.h) and the two launches. See decode.h.
#include <cinttypes>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "attn.h"
#include "context.h"
#include "decode.h"
#include "decode_abi.h"
#include "decode_rows.h"
#include "device_range.h"
#include "driver.h"
#include "kernel_lookup.h"
#include "launch.h"
#include "module_cache.h"
#include "status.h"
#include "tensor_map.h"

namespace ptxfmha {

// See decode.h (why 128 B).
CUtensorMapL2promotion decode_l2_promotion() {
  const char* e = std::getenv("PTXFMHA_DECODE_L2_PROMOTION");
  const std::string v = e != nullptr ? e : "";
  if (v == "none") return CU_TENSOR_MAP_L2_PROMOTION_NONE;
  if (v == "64") return CU_TENSOR_MAP_L2_PROMOTION_L2_64B;
  if (v == "256") return CU_TENSOR_MAP_L2_PROMOTION_L2_256B;
  return CU_TENSOR_MAP_L2_PROMOTION_L2_128B;
}

// See decode.h.
int decode_contig_box_shift() {
  const char* e = std::getenv("PTXFMHA_DECODE_BOX_ROWS");
  const std::string v = e != nullptr ? e : "";
  if (v == "16") return 4;
  if (v == "32") return 5;
  return 6;
}

namespace {

constexpr double kLog2e = 1.4426950408889634;

bool overlaps(uint64_t a_lo, uint64_t a_hi, uint64_t b_lo, uint64_t b_hi) {
  return a_lo < b_hi && b_lo < a_hi;
}

// One int per loaded function, computed once by `query` (a driver query): the module cache keeps
// every CUfunction alive for its context's lifetime, and the answers depend only on the function
// and its row. The query runs outside the lock; a failed query caches nothing.
class FunctionCache {
 public:
  template <class Query>
  ptxfmha_status get(CUfunction f, int* out, Query&& query) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = map_.find(f);
      if (it != map_.end()) {
        *out = it->second;
        return PTXFMHA_OK;
      }
    }
    int v = 0;
    const ptxfmha_status st = query(&v);
    if (st != PTXFMHA_OK) return st;
    std::lock_guard<std::mutex> lock(mutex_);
    map_[f] = v;
    *out = v;
    return PTXFMHA_OK;
  }

 private:
  std::mutex mutex_;
  std::map<CUfunction, int> map_;
};

// Resident split CTAs per SM (cuOccupancyMaxActiveBlocksPerMultiprocessor), cached per function.
ptxfmha_status split_ctas_per_sm(const KernelInfo& row, CUfunction f, int* per_sm) {
  static FunctionCache cache;
  return cache.get(f, per_sm, [&](int* n) {
    CUresult r = drv().cuOccupancyMaxActiveBlocksPerMultiprocessor(n, f, row.threads,
                                                                    static_cast<size_t>(row.smem_bytes));
    return r == CUDA_SUCCESS ? PTXFMHA_OK : fail_cuda(r, "cuOccupancyMaxActiveBlocksPerMultiprocessor");
  });
}

// The largest cluster (1, c, 1) of the _cl row `row` the device keeps resident, c <= 16
// (cuOccupancyMaxActiveClusters >= 1; above 8 after allowing non-portable sizes), cached per
// function; 0 when none is or the driver has no cuOccupancyMaxActiveClusters. A size the
// driver refuses (an error return of the query or of the attribute) counts as not resident:
// the call then takes the workspace path.
ptxfmha_status cluster_limit(const KernelInfo& row, CUfunction f, int* limit) {
  static FunctionCache cache;
  return cache.get(f, limit, [&](int* best) {
    const DriverApi& d = drv();
    *best = 0;
    if (d.cuOccupancyMaxActiveClusters == nullptr) return PTXFMHA_OK;
    const bool non_portable =
        d.cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 1) == CUDA_SUCCESS;
    for (int c = non_portable ? kDecodeClusterMax : kDecodeClusterPortable; c >= 2 && *best == 0; --c) {
      CUlaunchConfig cfg;
      std::memset(&cfg, 0, sizeof cfg);
      cfg.gridDimX = 1;
      cfg.gridDimY = static_cast<unsigned>(c);
      cfg.gridDimZ = 1;
      cfg.blockDimX = static_cast<unsigned>(row.threads);
      cfg.blockDimY = 1;
      cfg.blockDimZ = 1;
      cfg.sharedMemBytes = static_cast<unsigned>(row.smem_bytes);
      CUlaunchAttribute attr;
      std::memset(&attr, 0, sizeof attr);
      attr.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
      attr.value.clusterDim.x = 1;
      attr.value.clusterDim.y = static_cast<unsigned>(c);
      attr.value.clusterDim.z = 1;
      cfg.attrs = &attr;
      cfg.numAttrs = 1;
      int n = 0;
      if (d.cuOccupancyMaxActiveClusters(&n, f, &cfg) == CUDA_SUCCESS && n >= 1) *best = c;
    }
    return PTXFMHA_OK;
  });
}

// The call's cluster policy: a named _cl row forces it, another named row turns it off; else
// the override, else the environment PTXFMHA_DECODE_CLUSTER (0 = Off, 1 = Force, auto =
// Auto), else Off: on the H200 (2026-12-02, CUDA graphs and back to back, d128 32/8 heads,
// batch 1-32, kv 1k-128k) the cluster merge was slower than the workspace path with its
// combine kernel on every cell but one (bench/results/h200-2026-12-02-s3/NOTES.md), so it
// runs only when asked for.
DecodeClusterPolicy cluster_policy(const DecodeCall& c, const KernelInfo* named) {
  if (named != nullptr) return decode_row_cluster(named) ? DecodeClusterPolicy::Force : DecodeClusterPolicy::Off;
  return decode_cluster_policy(c.overrides.cluster);
}

// What a call needs beyond the plain kernel, for messages: "window, e4m3 cache".
std::string call_needs(const DecodeCall& c) {
  std::string s = c.features ? attn_feature_names(c.features) : std::string();
  if (c.kv_bytes == 1) s += (s.empty() ? "" : ", ") + std::string("e4m3 cache (kv_dtype)");
  return s.empty() ? "nothing beyond the plain kernel" : s;
}

// The split and combine rows of a call on this device (decode_rows.h), or why not.
ptxfmha_status pick_rows(const DecodeCall& c, const DeviceInfo& dev, const KernelInfo** split,
                         const KernelInfo** combine) {
  const ptxfmha_decode_params& p = c.base;
  const bool feat = c.features != 0;
  *combine = find_decode_combine(dev.sm, p.head_dim, c.sink_logits != nullptr);
  if (c.overrides.split_kernel != nullptr) {
    *split = find_decode_split_named(dev.sm, c.overrides.split_kernel);
    if (*split == nullptr)
      return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "no decode split kernel named %s for sm_%d (%s)",
                  c.overrides.split_kernel, dev.sm, dev.arch ? dev.arch : "no kernels");
    const DecodeRowFacts* f = decode_row_facts(*split);
    const int64_t packed = decode_packed_rows(p);
    if (f->heads > 1 && (p.heads_kv % f->heads != 0 || packed > 16))
      return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                  "decode split kernel %s takes %d KV heads per CTA with at most 16 packed rows each; "
                  "this call has heads_kv = %d and seqlen_q * heads_q / heads_kv = %" PRId64 " rows",
                  (*split)->name, f->heads, p.heads_kv, packed);
    if ((*split)->head_dim != p.head_dim || f->kv_bytes != c.kv_bytes || (feat && f->features == 0))
      return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                  "decode split kernel %s (head dim %d, %s cache%s) does not fit this call (head_dim "
                  "%d, %s cache, needs %s)",
                  (*split)->name, (*split)->head_dim, f->kv_bytes == 1 ? "e4m3" : "bf16",
                  f->features ? ", features" : "", p.head_dim, c.kv_bytes == 1 ? "e4m3" : "bf16",
                  call_needs(c).c_str());
  } else {
    *split = find_decode_split(dev.sm, p.head_dim, c.kv_bytes, feat, p.heads_kv, decode_packed_rows(p));
  }
  if (*split != nullptr && *combine != nullptr) return PTXFMHA_OK;
  if (find_kernel(dev.sm, KernelKind::Decode, p.head_dim) == nullptr)
    return fail(PTXFMHA_ERR_UNSUPPORTED_HEAD_DIM,
                "head_dim = %d has no decode kernel for sm_%d (%s); supported head_dim: %s",
                p.head_dim, dev.sm, dev.arch ? dev.arch : "no kernels for this architecture",
                head_dims_string(supported_head_dims(dev.sm, KernelKind::Decode)).c_str());
  return fail(PTXFMHA_ERR_UNSUPPORTED_FEATURE,
              "ptxfmha_decode_attn: no %s decode kernel (device sm_%d) of head_dim %d implements %s",
              dev.arch ? dev.arch : "(no kernels)", dev.sm, p.head_dim, call_needs(c).c_str());
}

// Rows, occupancy (driver queries), then the pure plan_decode, for a validated call.
ptxfmha_status plan_call(const DecodeCall& c, const DeviceInfo& dev, DecodePlan* plan,
                         LoadedKernel* split_kernel) {
  const ptxfmha_decode_params& p = c.base;
  const KernelInfo* split_row = nullptr;
  const KernelInfo* combine_row = nullptr;
  ptxfmha_status st = pick_rows(c, dev, &split_row, &combine_row);
  plan->split_row = split_row;
  plan->combine_row = combine_row;
  if (st != PTXFMHA_OK) return st;
  // A named row runs as named; otherwise the grid's row: the wide twin (more CTAs per SM) when
  // the unsplit grid covers the SMs, the one-head row for a two-heads row's small grid or a call
  // that may merge in a cluster.
  const KernelInfo* named = c.overrides.split_kernel != nullptr ? split_row : nullptr;
  // The _ho rows merge the four key parts of one m-tile (ho_on.ptxh): <= 16 packed rows.
  if (named != nullptr && decode_row_handout(named) && decode_packed_rows(p) > 16)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "decode split kernel %s hands out chunks to CTAs of one m-tile: seqlen_q x heads_q / "
                "heads_kv must be <= 16 (it is %d x %d)",
                named->name, p.seqlen_q, p.heads_q / p.heads_kv);
  const DecodeClusterPolicy policy = cluster_policy(c, named);
  if (named == nullptr) {
    split_row = decode_grid_row(dev.sm, dev.num_sms, split_row, p, policy != DecodeClusterPolicy::Off);
    plan->split_row = split_row;
  }
  for (const KernelInfo* r : {split_row, combine_row})
    if (r->param_bytes != static_cast<int>(sizeof(DecodeKernelParams)))
      return fail(PTXFMHA_ERR_CUBIN_INVALID,
                  "kernel table row %s declares a %d-byte parameter block, the host ABI is %zu bytes",
                  r->name, r->param_bytes, sizeof(DecodeKernelParams));
  st = get_kernel(dev, *split_row, split_kernel);
  if (st != PTXFMHA_OK) return st;
  int per_sm = 0;
  st = split_ctas_per_sm(*split_row, split_kernel->function, &per_sm);
  if (st != PTXFMHA_OK) return st;
  if (per_sm < 1)
    return fail(PTXFMHA_ERR_CUDA, "%s cannot be resident on this device (occupancy 0)",
                split_row->name);
  // The split model over the device's SMs (decode_plans_by_bandwidth, decode.h).
  DecodePlanOptions o = decode_row_plan_options(split_row, dev.num_sms, c.kv_bytes);
  o.min_waves = c.overrides.min_waves;
  o.no_cpasync = c.overrides.tma;
  if (c.window_left >= 0) o.band_keys = int64_t(c.window_left) + p.seqlen_q + kDecodeBlockN - 1;
  // The cluster merge: the _cl twin (or the named _cl row), its resident cluster limit.
  o.cluster_policy = policy;
  const KernelInfo* cl_row = nullptr;
  LoadedKernel cl_kernel;
  if (o.cluster_policy != DecodeClusterPolicy::Off && o.heads_per_cta == 1) {  // _cl: one head per CTA
    cl_row = named != nullptr ? named
                              : find_decode_cluster(dev.sm, p.head_dim, c.kv_bytes, c.features != 0,
                                                    decode_row_wg(split_row));
    if (cl_row != nullptr) {
      if (named != nullptr) {
        cl_kernel = *split_kernel;
      } else {
        st = get_kernel(dev, *cl_row, &cl_kernel);
        if (st != PTXFMHA_OK) return st;
      }
      st = cluster_limit(*cl_row, cl_kernel.function, &o.cluster_max);
      if (st != PTXFMHA_OK) return st;
    }
  }
  plan_decode(p, *split_row, *combine_row, int64_t(dev.num_sms) * per_sm, plan, o);
  if (decode_row_handout(split_row)) {
    plan_decode_handout(p, decode_ho_chunks_per_cta(), *combine_row, plan, o);
    return PTXFMHA_OK;
  }
  if (plan->cluster > 1 && cl_row != nullptr) {
    plan->split_row = cl_row;
    *split_kernel = cl_kernel;
    // The producer the plan was made for, if the _cl twin has it (it has whenever the planned
    // row has: the same cache type, no features, one head; decode_row_cpasync); else TMA.
    plan->cpasync = plan->cpasync && decode_row_cpasync(cl_row);
  } else if (named != nullptr && decode_row_cluster(named) && plan->num_splits > 1) {
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "decode split kernel %s merges its splits through a thread-block cluster of at most %d "
                "CTAs on this device; this call runs %d splits (num_splits = %d)",
                named->name, o.cluster_max, plan->num_splits, p.num_splits);
  }
  return PTXFMHA_OK;
}

// The parameter block of a planned call: the tensor maps, then decode_fill_scalars.
ptxfmha_status fill_params(const DecodeCall& c, const DecodePlan& plan, uint64_t ws_lo,
                           DecodeKernelParams* kp) {
  const ptxfmha_decode_params& p = c.base;
  std::memset(kp, 0, sizeof *kp);
  // A box row is one 128-byte swizzle span (bf16: 64 columns; e4m3: 128, or 64 at head dim 64).
  const unsigned box_cols = c.kv_bytes == 2 ? 64u : (p.head_dim < 128 ? unsigned(p.head_dim) : 128u);
  const unsigned box_rows = 1u << plan.box_shift;
  const CUtensorMapL2promotion promotion = decode_l2_promotion();
  ptxfmha_status st =
      encode_tensor_map(decode_k_view(p, c.kv_bytes), box_cols, box_rows, &kp->tma_k, promotion);
  if (st != PTXFMHA_OK) return st;
  st = encode_tensor_map(decode_v_view(p, c.kv_bytes), box_cols, box_rows, &kp->tma_v, promotion);
  if (st != PTXFMHA_OK) return st;
  decode_fill_scalars(c, plan, ws_lo, kp);
  return PTXFMHA_OK;
}

}  // namespace

// See decode.h.
void decode_fill_scalars(const DecodeCall& c, const DecodePlan& plan, uint64_t ws_lo, DecodeKernelParams* kp) {
  const ptxfmha_decode_params& p = c.base;
  kp->q_ptr = reinterpret_cast<uintptr_t>(p.q);
  kp->o_ptr = reinterpret_cast<uintptr_t>(p.o);
  kp->lse_ptr = reinterpret_cast<uintptr_t>(p.lse);
  kp->seqlens_ptr = reinterpret_cast<uintptr_t>(p.seqlens_k);
  kp->block_table_ptr = reinterpret_cast<uintptr_t>(p.block_table);
  if (plan.combine_grid > 0) {  // partials in the workspace (splits, or an _ho row's chunks)
    kp->ws_lse_ptr = ws_lo + plan.ws_lse_offset;
    kp->ws_o_ptr = ws_lo + plan.ws_o_offset;
  }
  if (plan.ho_ctas > 0) kp->ho_counters_ptr = ws_lo + plan.ws_counter_offset;
  kp->q_batch_stride = p.q_batch_stride;
  kp->q_seq_stride = p.q_seq_stride;
  kp->q_head_stride = p.q_head_stride;
  kp->o_batch_stride = p.o_batch_stride;
  kp->o_seq_stride = p.o_seq_stride;
  kp->o_head_stride = p.o_head_stride;
  kp->batch = p.batch;
  kp->seqlen_q = p.seqlen_q;
  kp->max_seqlen_k = p.max_seqlen_k;
  kp->heads_q = p.heads_q;
  kp->heads_kv = p.heads_kv;
  kp->gqa_ratio = p.heads_q / p.heads_kv;
  kp->page_shift = plan.page_shift;
  kp->max_blocks_per_seq = p.block_table ? p.max_blocks_per_seq : 0;
  kp->box_shift = plan.box_shift;
  kp->num_splits = plan.num_splits;
  kp->split_keys = plan.split_keys;
  kp->causal = p.causal;
  kp->scale_log2 = static_cast<float>(static_cast<double>(p.softmax_scale) * kLog2e);
  kp->m_groups = plan.m_groups;
  kp->packed_rows = p.seqlen_q * kp->gqa_ratio;
  kp->combine_rows = static_cast<int32_t>(decode_out_rows(p));
  // The cp.async producer of the plain bf16 rows (config.ptxh CPASYNC) where the plan runs it
  // (plan.cpasync); else DP_K_PTR stays 0 and the row loads through TMA (CPASYNC_MODE).
  if (plan.cpasync) {
    kp->k_ptr = reinterpret_cast<uintptr_t>(p.k_cache);
    kp->v_ptr = reinterpret_cast<uintptr_t>(p.v_cache);
    kp->kv_batch_stride_bytes = static_cast<uint64_t>(p.k_batch_stride) * 2;
    kp->kv_seq_stride_bytes = static_cast<uint32_t>(p.k_seq_stride * 2);
    kp->kv_head_stride_bytes = static_cast<uint32_t>(p.k_head_stride * 2);
  }
  // Features (read by the _attn split kernels and the _sink combine kernels only).
  kp->sink_logits_ptr = reinterpret_cast<uintptr_t>(c.sink_logits);
  kp->alibi_slopes_ptr = reinterpret_cast<uintptr_t>(c.alibi_slopes);
  kp->features = c.features;
  kp->window_left = c.window_left;
  kp->window_right = c.window_right;
  if (c.softcap > 0.0f) {
    kp->softcap_pre = static_cast<float>(double(p.softmax_scale) / double(c.softcap));
    kp->softcap_post_log2 = static_cast<float>(double(c.softcap) * kLog2e);
  }
  // The e4m3 cache's scales: index kv head * stride.
  kp->kv_scale_stride = c.kv_scale_count > 1 ? 1 : 0;
  kp->k_scale_ptr = reinterpret_cast<uintptr_t>(c.k_scale);
  kp->v_scale_ptr = reinterpret_cast<uintptr_t>(c.v_scale);
}

DecodeClusterPolicy decode_cluster_policy(DecodeClusterPolicy requested) {
  if (requested != DecodeClusterPolicy::Auto) return requested;
  const char* e = std::getenv("PTXFMHA_DECODE_CLUSTER");
  if (e != nullptr && std::strcmp(e, "0") == 0) return DecodeClusterPolicy::Off;
  if (e != nullptr && std::strcmp(e, "1") == 0) return DecodeClusterPolicy::Force;
  if (e != nullptr && std::strcmp(e, "auto") == 0) return DecodeClusterPolicy::Auto;
  return DecodeClusterPolicy::Off;
}

ptxfmha_status decode_run(const DecodeCall& c, bool launch, uint64_t* ws_bytes, DecodePlan* plan_out) {
  const ptxfmha_decode_params& p = c.base;
  DeviceInfo dev;
  ptxfmha_status st = acquire_device(&dev);
  if (st != PTXFMHA_OK) return st;
  DecodePlan plan;
  LoadedKernel split_k;
  st = plan_call(c, dev, &plan, &split_k);
  if (plan_out != nullptr) *plan_out = plan;
  if (st != PTXFMHA_OK) return st;
  if (!launch) {
    *ws_bytes = plan.workspace_bytes;
    return PTXFMHA_OK;
  }

  // ---- workspace and device-side ranges ----
  if (plan.workspace_bytes > 0) {
    if (p.workspace == nullptr)
      return fail(PTXFMHA_ERR_NULL_POINTER,
                  "workspace is NULL but this problem needs %" PRIu64
                  " bytes (%d KV splits; see ptxfmha_decode_workspace_size)",
                  plan.workspace_bytes, plan.num_splits);
    if (p.workspace_bytes < plan.workspace_bytes)
      return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                  "workspace_bytes = %" PRIu64 " is less than the %" PRIu64
                  " bytes this problem needs (%d KV splits; see ptxfmha_decode_workspace_size)",
                  p.workspace_bytes, plan.workspace_bytes, plan.num_splits);
  }
  const uint64_t ws_lo = reinterpret_cast<uintptr_t>(p.workspace);
  if (ws_lo > UINT64_MAX - plan.workspace_bytes)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW, "workspace plus %" PRIu64 " bytes overflows the address space",
                plan.workspace_bytes);
  const DecodeRange ws = {"workspace", ws_lo, ws_lo + plan.workspace_bytes};
  std::vector<DecodeRange> all = decode_call_ranges(c);
  if (ws.hi > ws.lo) {
    for (const DecodeRange& r : all) {
      if (r.hi > r.lo && overlaps(ws.lo, ws.hi, r.lo, r.hi))
        return fail(PTXFMHA_ERR_ALIASING,
                    "workspace (bytes [0x%" PRIx64 ", 0x%" PRIx64 ")) overlaps %s (bytes [0x%" PRIx64
                    ", 0x%" PRIx64 "))",
                    ws.lo, ws.hi, r.name, r.lo, r.hi);
    }
  }
  all.push_back(ws);
  for (const DecodeRange& r : all) {
    if (r.hi <= r.lo) continue;
    st = check_device_range(r.name, r.lo, r.hi);
    if (st != PTXFMHA_OK) return st;
  }

  // ---- parameter block, launches ----
  DecodeKernelParams kp;
  st = fill_params(c, plan, ws_lo, &kp);
  if (st != PTXFMHA_OK) return st;
  LaunchDims dims;
  for (int i = 0; i < 3; ++i) dims.grid[i] = plan.split_grid[i];
  dims.block[0] = static_cast<unsigned>(plan.split_row->threads);
  dims.smem_bytes = static_cast<unsigned>(plan.split_row->smem_bytes);
  dims.stream = static_cast<CUstream>(p.stream);
  if (plan.cluster > 1) dims.cluster[1] = static_cast<unsigned>(plan.cluster);  // == grid[1]
  if (plan.ho_ctas > 0) {
    // The _ho rows' chunk counters start at 0 each call (a memset node under graph capture).
    const CUresult r = drv().cuMemsetD32Async(static_cast<CUdeviceptr>(kp.ho_counters_ptr), 0,
                                              static_cast<size_t>(plan.ho_counters()), dims.stream);
    if (r != CUDA_SUCCESS) return fail_cuda(r, "cuMemsetD32Async (decode chunk counters)");
  }
  st = launch_kernel(split_k.function, dims, &kp, plan.split_row->name);
  if (st != PTXFMHA_OK || plan.combine_grid == 0) return st;

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
  cd.programmatic_serialization = !env_says_off("PTXFMHA_DECODE_PDL");
  st = launch_kernel(combine_k.function, cd, &kp, plan.combine_row->name);
  if (st == PTXFMHA_OK || !cd.programmatic_serialization) return st;
  // A stream or driver that refuses programmatic serialization still gets a correct,
  // fully serialized launch (griddepcontrol.wait is then a no-op).
  clear_last_error();
  cd.programmatic_serialization = false;
  return launch_kernel(combine_k.function, cd, &kp, plan.combine_row->name);
}

ptxfmha_status decode_plan(const ptxfmha_decode_params* p, DecodePlan* plan) {
  ptxfmha_status st = validate_decode_shape(p);
  if (st != PTXFMHA_OK) return st;
  DeviceInfo dev;
  st = acquire_device(&dev);
  if (st != PTXFMHA_OK) return st;
  LoadedKernel k;
  return plan_call(decode_call_plain(*p), dev, plan, &k);
}

}  // namespace ptxfmha
