// Where a grid's CTAs run, and how fast each reads (s34): bench/read_stream.ptx's
// bench_placement_read, launched through the Driver API by `ptxfmha placement` and the GPU test
// "placement probe". Why: at head dim 256 on the H100, split grids of 80-104 one-per-SM CTAs
// ran 1.04-1.14x slower than 64 or 128 (bench/DECODE_NOTES.md, s33-s34); one candidate is
// CTA placement over the TPCs (two SMs each). The probe reads like a split (one contiguous range
// per CTA) with the split kernel's dynamic shared memory, so it runs one CTA per SM as the split
// kernel does, and records each CTA's SM and its start and end time.
//
// TPCs: the probe takes SMs 2k and 2k + 1 (of %smid) to share TPC k. That is an assumption (the
// PTX ISA does not define it); the raw records are printed as well.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ptxfmha_bench {

// One CTA's record, as the kernel writes it (three u64 at records + ctaid x 24).
struct PlacementRecord {
  uint64_t smid = 0;
  uint64_t start_ns = 0, end_ns = 0;  // %globaltimer
};

// One launch's records, summarised (pure: CPU-tested).
struct PlacementSummary {
  int ctas = 0;
  int sms_used = 0;              // distinct SMs
  int max_ctas_per_sm = 0;
  int tpcs_used = 0;             // distinct smid / 2
  int tpcs_shared = 0;           // TPCs holding CTAs on both of their SMs
  int shared_ctas = 0;           // CTAs on such TPCs
  int alone_ctas = 0;            // CTAs whose TPC's other SM holds none
  double shared_us = 0.0;        // median duration (end - start) of the shared CTAs (0: none)
  double alone_us = 0.0;         // median duration of the alone CTAs (0: none)
  double span_us = 0.0;          // last end - first start
  bool valid = false;            // every record's end >= start (false: a record not written)
};
PlacementSummary summarize_placement(const std::vector<PlacementRecord>& records);

struct PlacementOptions {
  std::vector<int> sizes;        // grid sizes (CTAs), one launch set each
  std::size_t cta_bytes = 0;     // bytes each CTA reads (a multiple of 16)
  int smem_bytes = 0;            // dynamic shared memory per CTA (0: none)
  int threads = 256;
  int reps = 5;                  // timed launches per size (the median is reported)
};

struct PlacementRun {
  int ctas = 0;
  double kernel_ms = 0.0;        // median of `reps` event-timed launches
  double gb_per_s = 0.0;         // ctas x cta_bytes / kernel_ms
  std::vector<PlacementRecord> records;  // of the median launch
  PlacementSummary summary;
};

// "" or the first bad field of `opt`, named (what run_placement_probe refuses before it touches
// the driver; the CLI asks first, so that bad input is refused on a machine without a GPU too).
std::string placement_options_error(const PlacementOptions& opt);

// One untimed launch, then `reps` timed ones on `stream` (device events around each), the n
// records at `records` poisoned with 0xff before each launch, read back after it and checked
// (every CTA wrote one: an SM id, no end before its start). `launch` issues one launch on the
// stream and returns "" or its error. Out: the median launch's time (the upper middle one when
// reps is even) and its records. "" or the error, beginning with `who`. Shared by the probe and
// the decode trace (cta_trace.h).
std::string time_recorded_launches(int reps, CUstream stream, CUdeviceptr records, int n,
                                   const std::function<std::string(CUstream)>& launch, const std::string& who,
                                   double* ms, std::vector<PlacementRecord>* median_records);

// On the current device (acquire_context): for each size, one warm-up launch and `reps` timed
// ones (records poisoned with 0xff before each, then read back and checked: every CTA wrote
// its record). "" or the error, naming the argument or the call.
std::string run_placement_probe(const PlacementOptions& opt, std::vector<PlacementRun>* out);

}  // namespace ptxfmha_bench
