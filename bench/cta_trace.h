// Where and when each CTA of a decode split kernel runs (s37): `ptxfmha decode-trace`. Nsight
// Compute showed the d256 split kernel's CTAs finishing apart at 96 one-per-SM CTAs (the longest
// SM active 1.134x the busy SMs' mean; bench/results/h100-2026-12-07-s37) but not which ones.
// The traced split kernels (ptx/body/sm90_decode/cta_trace.ptxh, built by `make cubin-trace`
// into $(BUILD)/cubin-trace beside copies of the other cubins) write per CTA {%smid, start, end}
// (%globaltimer, ns) as the placement probe's records, 24 bytes per CTA just past the workspace
// the library asks for. This runs one decode cell of the bench's full grid through the public
// ptxfmha_decode with a forced split count and reads them back.
//
// The library must load the traced cubins (PTXFMHA_CUBIN_DIR=$(BUILD)/cubin-trace, or
// ptxfmha_set_cubin_dir): with the shipped ones no record is written and the run fails, saying so.
#pragma once

#include <string>
#include <vector>

#include "bench_case.h"
#include "placement_probe.h"

namespace ptxfmha_bench {

struct DecodeTraceOptions {
  std::string cell;  // a decode cell of the full grid (bf16 cache), e.g. decode/d256/b1/kv131072/hq32hkv8/q1/contig
  int splits = 0;    // forced KV splits, >= 2 (one split has no workspace, so no records)
  int reps = 5;      // timed launches (the median one is kept)
};

struct DecodeTraceRun {
  std::string kernel;          // the split row the library ran
  unsigned grid[3] = {0, 0, 0};  // (KV heads x m-groups, splits, batch): CTA c = x + gx (y + gy z)
  double launch_ms = 0.0;      // the median launch (split and combine kernels, device events)
  std::vector<PlacementRecord> records;  // the median launch's, by CTA
  PlacementSummary summary;
};

// The cell named by `opt` (CPU): "" and *out, or the error naming the bad option.
std::string decode_trace_case(const DecodeTraceOptions& opt, Case* out);

// On the current device (acquire_context). "" or the error, beginning "decode-trace: ".
std::string run_decode_trace(const DecodeTraceOptions& opt, DecodeTraceRun* out);

}  // namespace ptxfmha_bench
