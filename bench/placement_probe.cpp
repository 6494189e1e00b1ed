// `ptxfmha placement` and the GPU test's probe: bench_placement_read (bench/read_stream.ptx)
// through the Driver API. See placement_probe.h.
#include "placement_probe.h"

#include <algorithm>
#include <cstdlib>

#include "context.h"
#include "driver.h"

#ifndef PTXFMHA_BENCH_CUBIN_DIR
#define PTXFMHA_BENCH_CUBIN_DIR "build/cubin-bench"
#endif

namespace ptxfmha_bench {

static_assert(sizeof(PlacementRecord) == 24, "bench_placement_read writes three u64 per CTA");

namespace {

double median_of(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// Releases what run_placement_probe allocated, on every path.
struct ProbeResources {
  CUmodule module = nullptr;
  CUdeviceptr data = 0, records = 0, sink = 0;
  CUstream stream = nullptr;
  CUevent start = nullptr, stop = nullptr;
  ~ProbeResources() {
    const auto& d = ptxfmha::drv();
    if (start) d.cuEventDestroy(start);
    if (stop) d.cuEventDestroy(stop);
    if (stream) d.cuStreamDestroy(stream);
    if (data) d.cuMemFree(data);
    if (records) d.cuMemFree(records);
    if (sink) d.cuMemFree(sink);
    if (module) d.cuModuleUnload(module);
  }
};

}  // namespace

PlacementSummary summarize_placement(const std::vector<PlacementRecord>& records) {
  PlacementSummary s;
  s.ctas = static_cast<int>(records.size());
  if (records.empty()) return s;
  s.valid = true;
  std::vector<int> per_sm;
  uint64_t first = records[0].start_ns, last = records[0].end_ns;
  for (const PlacementRecord& r : records) {
    if (r.end_ns < r.start_ns || r.smid > 65535) s.valid = false;
    if (r.smid <= 65535) {
      if (per_sm.size() <= r.smid) per_sm.resize(r.smid + 1, 0);
      ++per_sm[r.smid];
    }
    first = std::min(first, r.start_ns);
    last = std::max(last, r.end_ns);
  }
  if (!s.valid) return s;
  s.span_us = double(last - first) * 1e-3;
  for (std::size_t sm = 0; sm < per_sm.size(); ++sm) {
    if (per_sm[sm] == 0) continue;
    ++s.sms_used;
    s.max_ctas_per_sm = std::max(s.max_ctas_per_sm, per_sm[sm]);
    const std::size_t other = sm ^ 1;
    const bool other_busy = other < per_sm.size() && per_sm[other] > 0;
    if (sm % 2 == 0 || !other_busy) ++s.tpcs_used;  // count a TPC once: at its even SM, or alone
    if (sm % 2 == 0 && other_busy) ++s.tpcs_shared;
  }
  std::vector<double> shared, alone;
  for (const PlacementRecord& r : records) {
    const std::size_t other = r.smid ^ 1;
    const bool other_busy = other < per_sm.size() && per_sm[other] > 0;
    (other_busy ? shared : alone).push_back(double(r.end_ns - r.start_ns) * 1e-3);
  }
  s.shared_ctas = static_cast<int>(shared.size());
  s.alone_ctas = static_cast<int>(alone.size());
  s.shared_us = median_of(shared);
  s.alone_us = median_of(alone);
  return s;
}

std::string run_placement_probe(const PlacementOptions& opt, std::vector<PlacementRun>* out) {
  out->clear();
  if (opt.sizes.empty()) return "placement: sizes: none given";
  for (int n : opt.sizes)
    if (n < 1 || n > 65535) return "placement: sizes: " + std::to_string(n) + " is not in 1..65535";
  if (opt.cta_bytes < 16 || opt.cta_bytes % 16 != 0)
    return "placement: cta_bytes: " + std::to_string(opt.cta_bytes) + " is not a positive multiple of 16";
  if (opt.threads < 32 || opt.threads > 1024 || opt.threads % 32 != 0)
    return "placement: threads: " + std::to_string(opt.threads) + " is not a multiple of 32 in 32..1024";
  if (opt.reps < 1) return "placement: reps: " + std::to_string(opt.reps) + " is below 1";
  if (opt.smem_bytes < 0) return "placement: smem_bytes: " + std::to_string(opt.smem_bytes) + " is negative";

  ptxfmha::DeviceInfo dev;
  std::string init;
  if (ptxfmha::driver_init(&init) != PTXFMHA_OK) return "placement: no CUDA driver: " + init;
  if (ptxfmha::acquire_context(&dev) != PTXFMHA_OK) return std::string("placement: ") + ptxfmha_last_error();
  if (!dev.arch) return "placement: no bench cubin for compute capability " + std::to_string(dev.sm);
  if (opt.smem_bytes > dev.max_smem_optin_bytes)
    return "placement: smem_bytes: " + std::to_string(opt.smem_bytes) + " is above the device's " +
           std::to_string(dev.max_smem_optin_bytes);
  const int max_ctas = *std::max_element(opt.sizes.begin(), opt.sizes.end());

  const auto& d = ptxfmha::drv();
  ProbeResources res;
  const char* env = std::getenv("PTXFMHA_BENCH_CUBIN_DIR");
  const std::string path = std::string(env ? env : PTXFMHA_BENCH_CUBIN_DIR) + "/read_stream_" + dev.arch + ".cubin";
  CUfunction fn = nullptr;
  auto fail = [](CUresult r, const std::string& what) { return ptxfmha::cu_error_message(r, what.c_str()); };
  CUresult r = d.cuModuleLoad(&res.module, path.c_str());
  if (r != CUDA_SUCCESS) return fail(r, "cuModuleLoad(" + path + ")");
  if ((r = d.cuModuleGetFunction(&fn, res.module, "bench_placement_read")) != CUDA_SUCCESS)
    return fail(r, "cuModuleGetFunction(bench_placement_read) in " + path);
  if ((r = d.cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, opt.smem_bytes)) != CUDA_SUCCESS)
    return fail(r, "cuFuncSetAttribute(max dynamic shared memory)");
  const std::size_t data_bytes = opt.cta_bytes * std::size_t(max_ctas);
  const std::size_t rec_bytes = sizeof(PlacementRecord) * std::size_t(max_ctas);
  if ((r = d.cuMemAlloc(&res.data, data_bytes)) != CUDA_SUCCESS) return fail(r, "cuMemAlloc(data)");
  if ((r = d.cuMemAlloc(&res.records, rec_bytes)) != CUDA_SUCCESS) return fail(r, "cuMemAlloc(records)");
  if ((r = d.cuMemAlloc(&res.sink, 16)) != CUDA_SUCCESS) return fail(r, "cuMemAlloc(sink)");
  if ((r = d.cuStreamCreate(&res.stream, CU_STREAM_NON_BLOCKING)) != CUDA_SUCCESS) return fail(r, "cuStreamCreate");
  if ((r = d.cuEventCreate(&res.start, CU_EVENT_DEFAULT)) != CUDA_SUCCESS) return fail(r, "cuEventCreate");
  if ((r = d.cuEventCreate(&res.stop, CU_EVENT_DEFAULT)) != CUDA_SUCCESS) return fail(r, "cuEventCreate");
  // not zeros: a pattern of finite bf16 pairs (the bytes' values do not matter to a read)
  if ((r = d.cuMemsetD32(res.data, 0x3f803c00u, data_bytes / 4)) != CUDA_SUCCESS) return fail(r, "cuMemsetD32(data)");

  unsigned long long base = res.data, vecs = opt.cta_bytes / 16, recs = res.records, sink = res.sink;
  void* args[] = {&base, &vecs, &recs, &sink};
  for (int n : opt.sizes) {
    PlacementRun run;
    run.ctas = n;
    std::vector<double> ms;
    std::vector<std::vector<PlacementRecord>> recs_of(opt.reps);
    for (int rep = -1; rep < opt.reps; ++rep) {  // rep -1: the warm-up, not timed
      if ((r = d.cuMemsetD8Async(res.records, 0xff, rec_bytes, res.stream)) != CUDA_SUCCESS)
        return fail(r, "cuMemsetD8Async(records)");
      if ((r = d.cuEventRecord(res.start, res.stream)) != CUDA_SUCCESS) return fail(r, "cuEventRecord");
      if ((r = d.cuLaunchKernel(fn, n, 1, 1, opt.threads, 1, 1, opt.smem_bytes, res.stream, args, nullptr)) !=
          CUDA_SUCCESS)
        return fail(r, "cuLaunchKernel(bench_placement_read, " + std::to_string(n) + " CTAs)");
      if ((r = d.cuEventRecord(res.stop, res.stream)) != CUDA_SUCCESS) return fail(r, "cuEventRecord");
      if ((r = d.cuStreamSynchronize(res.stream)) != CUDA_SUCCESS) return fail(r, "cuStreamSynchronize");
      if (rep < 0) continue;
      float t = 0.0f;
      if ((r = d.cuEventElapsedTime(&t, res.start, res.stop)) != CUDA_SUCCESS) return fail(r, "cuEventElapsedTime");
      ms.push_back(t);
      std::vector<PlacementRecord>& got = recs_of[rep];
      got.resize(n);
      if ((r = d.cuMemcpyDtoH(got.data(), res.records, sizeof(PlacementRecord) * std::size_t(n))) != CUDA_SUCCESS)
        return fail(r, "cuMemcpyDtoH(records)");
      // Not written: the poison (all ones) or an end before the start. %smid is not checked
      // against the SM count: the PTX ISA does not promise contiguous SM ids (< %nsmid).
      for (int c = 0; c < n; ++c)
        if (got[c].smid == ~0ull || got[c].smid > 65535 || got[c].end_ns < got[c].start_ns)
          return "placement: CTA " + std::to_string(c) + " of " + std::to_string(n) +
                 " left no valid record (smid " + std::to_string(got[c].smid) + ")";
    }
    // the launch of the median time (the upper middle one when reps is even)
    std::vector<int> order(ms.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return ms[a] < ms[b]; });
    const int mid = order[order.size() / 2];
    run.kernel_ms = ms[mid];
    run.gb_per_s = double(opt.cta_bytes) * n / (run.kernel_ms * 1e-3) * 1e-9;
    run.records = recs_of[mid];
    run.summary = summarize_placement(run.records);
    out->push_back(std::move(run));
  }
  return "";
}

}  // namespace ptxfmha_bench
