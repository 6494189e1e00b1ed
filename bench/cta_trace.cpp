// `ptxfmha decode-trace`: one decode cell through ptxfmha_decode with the traced split kernels
// (ptx/body/sm90_decode/cta_trace.ptxh). See cta_trace.h.
#include "cta_trace.h"

#include "bench_util.h"
#include "context.h"
#include "decode.h"
#include "decode_replay.h"  // decode_call_params
#include "driver.h"
#include "ptxfmha/ptxfmha.h"

namespace ptxfmha_bench {

std::string decode_trace_case(const DecodeTraceOptions& opt, Case* out) {
  if (opt.splits < 2 || opt.splits > 4096)
    return "decode-trace: splits: " + std::to_string(opt.splits) +
           " is not in 2..4096 (one split has no workspace, so no records)";
  if (opt.reps < 1 || opt.reps > 1000) return "decode-trace: reps: " + std::to_string(opt.reps) + " is not in 1..1000";
  std::vector<Case> cells;
  std::string why;
  if (!decode_grid("full", &cells, &why)) return "decode-trace: " + why;
  for (const Case& c : cells)
    if (c.name == opt.cell && c.kv_elem_bytes == 2 && c.variant.empty()) {
      *out = c;
      return "";
    }
  return "decode-trace: cell: '" + opt.cell +
         "' is not a cell of the full decode grid (e.g. decode/d256/b1/kv131072/hq32hkv8/q1/contig; "
         "`ptxfmha decode-plans` lists them)";
}

std::string run_decode_trace(const DecodeTraceOptions& opt, DecodeTraceRun* out) {
  Case c;
  std::string why = decode_trace_case(opt, &c);
  if (!why.empty()) return why;
  ptxfmha::DeviceInfo dev;
  if (ptxfmha::acquire_context(&dev) != PTXFMHA_OK) return std::string("decode-trace: ") + ptxfmha_last_error();
  if (dev.arch == nullptr || std::string(dev.arch) != "sm90a")
    return "decode-trace: the traced split kernels are built for sm90a only (compute capability " +
           std::to_string(dev.sm) + ")";
  const auto& d = ptxfmha::drv();
  try {
    // Inputs as the bench makes them: random normal bf16 (seeded), pages in a shuffled order.
    DeviceBuffer q(std::size_t(c.q_elems()) * 2), k(std::size_t(c.kv_elems()) * 2), v(std::size_t(c.kv_elems()) * 2),
        o(std::size_t(c.q_elems()) * 2), lse(std::size_t(c.lse_elems()) * 4), table;
    upload_random_bf16(q.ptr(), std::size_t(c.q_elems()), 1);
    upload_random_bf16(k.ptr(), std::size_t(c.kv_elems()), 2);
    upload_random_bf16(v.ptr(), std::size_t(c.kv_elems()), 3);
    if (c.paged()) {
      const std::vector<int32_t> pages = decode_page_order(c.num_pages());
      table.alloc(pages.size() * 4);
      cu_check(d.cuMemcpyHtoD(table.ptr(), pages.data(), pages.size() * 4), "cuMemcpyHtoD(block table)");
    }
    ptxfmha_decode_params p{};
    decode_call_params(c, q.get(), k.get(), v.get(), o.get(), static_cast<float*>(lse.get()),
                       c.paged() ? static_cast<const int32_t*>(table.get()) : nullptr, &p);
    p.num_splits = opt.splits;
    ptxfmha::DecodePlan plan;
    if (ptxfmha::decode_plan(&p, &plan) != PTXFMHA_OK) return std::string("decode-trace: ") + ptxfmha_last_error();
    if (plan.num_splits != opt.splits)
      return "decode-trace: splits: the library runs " + std::to_string(plan.num_splits) + " splits, not " +
             std::to_string(opt.splits) + " (at most one split per key tile)";
    if (plan.cluster > 1) return "decode-trace: the plan merges in a cluster (_cl rows are not traced)";
    uint64_t ws_bytes = 0;
    if (ptxfmha_decode_workspace_size(&p, &ws_bytes) != PTXFMHA_OK)
      return std::string("decode-trace: ") + ptxfmha_last_error();
    const int ctas = static_cast<int>(plan.split_ctas());
    // The records sit right past the workspace the library asks for (cta_trace.ptxh).
    DeviceBuffer ws(ws_bytes + sizeof(PlacementRecord) * std::size_t(ctas));
    p.workspace = ws.get();
    p.workspace_bytes = ws_bytes;
    struct Stream {  // destroyed on every path
      CUstream s = nullptr;
      ~Stream() {
        if (s) ptxfmha::drv().cuStreamDestroy(s);
      }
    } stream;
    cu_check(d.cuStreamCreate(&stream.s, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
    auto launch = [&](CUstream s) -> std::string {
      p.stream = s;
      return ptxfmha_decode(&p) == PTXFMHA_OK ? "" : std::string("ptxfmha_decode: ") + ptxfmha_last_error();
    };
    why = time_recorded_launches(opt.reps, stream.s, ws.ptr() + ws_bytes, ctas, launch, "decode-trace", &out->launch_ms,
                                 &out->records);
    if (!why.empty())
      return why.find("no valid record") == std::string::npos
                 ? why
                 : why + "; is PTXFMHA_CUBIN_DIR the traced cubins (`make cubin-trace`: $(BUILD)/cubin-trace), " +
                       "and is " + plan.split_row->name + " one of the traced rows (TRACE_KERNELS, bench/bench.mk)?";
    out->kernel = plan.split_row->name;
    for (int i = 0; i < 3; ++i) out->grid[i] = plan.split_grid[i];
    out->summary = summarize_placement(out->records);
  } catch (const std::exception& e) {
    return std::string("decode-trace: ") + e.what();
  }
  return "";
}

}  // namespace ptxfmha_bench
