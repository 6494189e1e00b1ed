// `ptxfmha placement` and the GPU test's probe: bench_placement_read (bench/read_stream.ptx)
// through the Driver API. See placement_probe.h.
#include "placement_probe.h"

#include <algorithm>

#include "bench_util.h"
#include "context.h"
#include "driver.h"

namespace ptxfmha_bench {

static_assert(sizeof(PlacementRecord) == 24, "bench_placement_read writes three u64 per CTA");

namespace {

// The module and stream run_placement_probe made, released on every path (the buffers and
// events are bench_util's DeviceBuffer and EventPairs).
struct ProbeModule {
  CUmodule module = nullptr;
  CUstream stream = nullptr;
  ~ProbeModule() {
    if (stream) ptxfmha::drv().cuStreamDestroy(stream);
    if (module) ptxfmha::drv().cuModuleUnload(module);
  }
};

// bench_util's median, 0 where there is nothing (the summary's "none").
double median_or_zero(const std::vector<double>& v) { return v.empty() ? 0.0 : median(v); }

// Written by the kernel: not the poison (all ones: an SM id out of range) and no end before the
// start. %smid is not checked against the SM count: the PTX ISA does not promise contiguous SM
// ids (< %nsmid).
bool record_written(const PlacementRecord& r) { return r.smid <= 65535 && r.end_ns >= r.start_ns; }

}  // namespace

PlacementSummary summarize_placement(const std::vector<PlacementRecord>& records) {
  PlacementSummary s;
  s.ctas = static_cast<int>(records.size());
  if (records.empty()) return s;
  s.valid = true;
  std::vector<int> per_sm;
  uint64_t first = records[0].start_ns, last = records[0].end_ns;
  for (const PlacementRecord& r : records) {
    if (!record_written(r)) s.valid = false;
    if (r.smid <= 65535) {
      if (per_sm.size() <= r.smid) per_sm.resize(r.smid + 1, 0);
      ++per_sm[r.smid];
    }
    first = std::min(first, r.start_ns);
    last = std::max(last, r.end_ns);
  }
  if (!s.valid) return s;
  s.span_us = double(last - first) * 1e-3;
  // whether the other SM of sm's TPC (SMs 2k and 2k + 1) holds a CTA
  auto partner_busy = [&](std::size_t sm) { return (sm ^ 1) < per_sm.size() && per_sm[sm ^ 1] > 0; };
  for (std::size_t sm = 0; sm < per_sm.size(); ++sm) {
    if (per_sm[sm] == 0) continue;
    ++s.sms_used;
    s.max_ctas_per_sm = std::max(s.max_ctas_per_sm, per_sm[sm]);
    const bool other_busy = partner_busy(sm);
    if (sm % 2 == 0 || !other_busy) ++s.tpcs_used;  // count a TPC once: at its even SM, or alone
    if (sm % 2 == 0 && other_busy) ++s.tpcs_shared;
  }
  std::vector<double> shared, alone;
  for (const PlacementRecord& r : records) {
    (partner_busy(r.smid) ? shared : alone).push_back(double(r.end_ns - r.start_ns) * 1e-3);
  }
  s.shared_ctas = static_cast<int>(shared.size());
  s.alone_ctas = static_cast<int>(alone.size());
  s.shared_us = median_or_zero(shared);
  s.alone_us = median_or_zero(alone);
  return s;
}

std::string placement_options_error(const PlacementOptions& opt) {
  if (opt.sizes.empty()) return "placement: sizes: none given";
  for (int n : opt.sizes)
    if (n < 1 || n > 65535) return "placement: sizes: " + std::to_string(n) + " is not in 1..65535";
  if (opt.cta_bytes < 16 || opt.cta_bytes % 16 != 0)
    return "placement: cta_bytes: " + std::to_string(opt.cta_bytes) + " is not a positive multiple of 16";
  if (opt.threads < 32 || opt.threads > 1024 || opt.threads % 32 != 0)
    return "placement: threads: " + std::to_string(opt.threads) + " is not a multiple of 32 in 32..1024";
  if (opt.reps < 1) return "placement: reps: " + std::to_string(opt.reps) + " is below 1";
  if (opt.smem_bytes < 0) return "placement: smem_bytes: " + std::to_string(opt.smem_bytes) + " is negative";
  return "";
}

std::string time_recorded_launches(int reps, CUstream stream, CUdeviceptr records, int n,
                                   const std::function<std::string(CUstream)>& launch, const std::string& who,
                                   double* ms_out, std::vector<PlacementRecord>* median_records) {
  if (reps < 1 || n < 1)
    return who + ": reps " + std::to_string(reps) + " and records " + std::to_string(n) + " must be >= 1";
  const auto& d = ptxfmha::drv();
  const std::size_t rec_bytes = sizeof(PlacementRecord) * std::size_t(n);
  EventPairs ev;
  ev.resize(std::size_t(reps));
  std::vector<double> ms(static_cast<std::size_t>(reps));
  std::vector<std::vector<PlacementRecord>> recs_of(static_cast<std::size_t>(reps));
  for (int rep = -1; rep < reps; ++rep) {  // rep -1: the warm-up, not timed
    cu_check(d.cuMemsetD8Async(records, 0xff, rec_bytes, stream), "cuMemsetD8Async(records)");
    const std::size_t e = rep < 0 ? 0 : std::size_t(rep);
    ev.record_start(e, stream);
    const std::string why = launch(stream);
    if (!why.empty()) return who + ": " + why;
    ev.record_end(e, stream);
    cu_check(d.cuStreamSynchronize(stream), "cuStreamSynchronize");
    if (rep < 0) continue;
    ms[std::size_t(rep)] = ev.elapsed_ms(e);
    std::vector<PlacementRecord>& got = recs_of[std::size_t(rep)];
    got.resize(std::size_t(n));
    download(got.data(), records, rec_bytes);
    for (int c = 0; c < n; ++c)
      if (!record_written(got[std::size_t(c)]))
        return who + ": CTA " + std::to_string(c) + " of " + std::to_string(n) + " left no valid record (smid " +
               std::to_string(got[std::size_t(c)].smid) + ")";
  }
  std::vector<int> order(ms.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return ms[std::size_t(a)] < ms[std::size_t(b)]; });
  const std::size_t mid = std::size_t(order[order.size() / 2]);
  *ms_out = ms[mid];
  *median_records = recs_of[mid];
  return "";
}

std::string run_placement_probe(const PlacementOptions& opt, std::vector<PlacementRun>* out) {
  out->clear();
  const std::string bad = placement_options_error(opt);
  if (!bad.empty()) return bad;

  ptxfmha::DeviceInfo dev;  // acquire_context loads the driver first (driver_init)
  if (ptxfmha::acquire_context(&dev) != PTXFMHA_OK) return std::string("placement: ") + ptxfmha_last_error();
  if (!dev.arch) return "placement: no bench cubin for compute capability " + std::to_string(dev.sm);
  if (opt.smem_bytes > dev.max_smem_optin_bytes)
    return "placement: smem_bytes: " + std::to_string(opt.smem_bytes) + " is above the device's " +
           std::to_string(dev.max_smem_optin_bytes);
  const int max_ctas = *std::max_element(opt.sizes.begin(), opt.sizes.end());

  const auto& d = ptxfmha::drv();
  const std::string path = read_stream_cubin_path(dev.arch);
  try {
    ProbeModule m;
    CUfunction fn = nullptr;
    cu_check(d.cuModuleLoad(&m.module, path.c_str()), ("cuModuleLoad(" + path + ")").c_str());
    cu_check(d.cuModuleGetFunction(&fn, m.module, "bench_placement_read"), "cuModuleGetFunction(bench_placement_read)");
    cu_check(d.cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, opt.smem_bytes),
             "cuFuncSetAttribute(max dynamic shared memory)");
    cu_check(d.cuStreamCreate(&m.stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
    const std::size_t rec_bytes = sizeof(PlacementRecord) * std::size_t(max_ctas);
    DeviceBuffer data(opt.cta_bytes * std::size_t(max_ctas)), records(rec_bytes), sink(16);
    // not zeros: a pattern of finite bf16 pairs (the bytes' values do not matter to a read)
    cu_check(d.cuMemsetD32(data.ptr(), 0x3f803c00u, data.bytes() / 4), "cuMemsetD32(data)");
    unsigned long long base = data.ptr(), vecs = opt.cta_bytes / 16, recs = records.ptr(), snk = sink.ptr();
    void* args[] = {&base, &vecs, &recs, &snk};
    for (int n : opt.sizes) {
      PlacementRun run;
      run.ctas = n;
      auto launch = [&](CUstream s) -> std::string {  // cu_check throws: caught below
        cu_check(d.cuLaunchKernel(fn, n, 1, 1, opt.threads, 1, 1, opt.smem_bytes, s, args, nullptr),
                 ("cuLaunchKernel(bench_placement_read, " + std::to_string(n) + " CTAs)").c_str());
        return std::string();
      };
      const std::string why = time_recorded_launches(opt.reps, m.stream, records.ptr(), n, launch, "placement",
                                                     &run.kernel_ms, &run.records);
      if (!why.empty()) return why;
      run.gb_per_s = double(opt.cta_bytes) * n / (run.kernel_ms * 1e-3) * 1e-9;
      run.summary = summarize_placement(run.records);
      out->push_back(std::move(run));
    }
  } catch (const std::exception& e) {
    return std::string("placement: ") + e.what();
  }
  return "";
}

}  // namespace ptxfmha_bench
