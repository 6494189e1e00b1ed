#include "bench_ceiling.h"

#include <cmath>

#include "bench_options.h"
#include "bench_util.h"
#include "bench_timing.h"
#include "driver.h"

namespace ptxfmha_bench {

ReadCeiling& read_ceiling() {
  static ReadCeiling r;
  return r;
}

bool ReadCeiling::load() {
  if (tried_) return ok();
  tried_ = true;
  if (!g_dev.arch) {
    why_ = "no read-ceiling kernel for this architecture";
    return false;
  }
  path_ = read_stream_cubin_path(g_dev.arch);
  const auto& d = ptxfmha::drv();
  CUresult r = d.cuModuleLoad(&module_, path_.c_str());
  if (r == CUDA_SUCCESS) r = d.cuModuleGetFunction(&read_, module_, "bench_read_stream");
  if (r == CUDA_SUCCESS) r = d.cuModuleGetFunction(&empty_, module_, "bench_empty");
  int per_sm = 0;
  if (r == CUDA_SUCCESS) r = d.cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, read_, block_, 0);
  if (r == CUDA_SUCCESS) r = d.cuMemAlloc(&sink_, 16);
  if (r != CUDA_SUCCESS) {
    why_ = ptxfmha::cu_error_message(r, ("loading " + path_).c_str()) +
           " (bench.mk assembles it with `make bench`; PTXFMHA_BENCH_CUBIN_DIR overrides the directory)";
    read_ = empty_ = nullptr;
    return false;
  }
  grid_ = g_dev.num_sms * std::max(1, per_sm);
  why_.clear();
  return true;
}

std::string ReadCeiling::launch_read(const void* a, const void* b, std::size_t bytes_each, CUstream s) {
  if (!ok()) return why_;
  unsigned long long pa = reinterpret_cast<unsigned long long>(a), pb = reinterpret_cast<unsigned long long>(b);
  unsigned long long n = bytes_each / 16, sink = sink_;
  void* args[] = {&pa, &n, &pb, &n, &sink};
  CUresult r = ptxfmha::drv().cuLaunchKernel(read_, grid_, 1, 1, block_, 1, 1, 0, s, args, nullptr);
  return r == CUDA_SUCCESS ? "" : ptxfmha::cu_error_message(r, "cuLaunchKernel(bench_read_stream)");
}

std::string ReadCeiling::launch_empty(CUstream s) {
  if (!ok()) return why_;
  CUresult r = ptxfmha::drv().cuLaunchKernel(empty_, 1, 1, 1, 32, 1, 1, 0, s, nullptr, nullptr);
  return r == CUDA_SUCCESS ? "" : ptxfmha::cu_error_message(r, "cuLaunchKernel(bench_empty)");
}

double ReadCeiling::launch_floor_ms() {
  if (floor_done_) return floor_ms_;
  floor_done_ = true;
  floor_ms_ = NAN;
  if (!ok() || !g_fatal.empty()) return floor_ms_;
  MethodTiming t;
  std::vector<Runner> one(1);
  one[0].what = "empty kernel (launch floor)";
  one[0].launch = [this](int) { return launch_empty(g_stream); };
  one[0].method = g_opt.headline();  // the floor of the headline method (graph: no host cost)
  one[0].out = &t;
  measure_interleaved(one, g_opt.samples, g_opt.batch_ms);
  if (!t.error.empty()) why_floor_ = t.error;
  floor_ms_ = t.stats.median_ms;
  return floor_ms_;
}

std::string ReadCeiling::config() const {
  if (!ok()) return why_;
  return "grid " + std::to_string(grid_) + " x " + std::to_string(block_) +
         " threads, 16-byte loads, cubin " + path_;
}

}  // namespace ptxfmha_bench
