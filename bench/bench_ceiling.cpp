#include "bench_ceiling.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "bench_device.h"
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
  if (r == CUDA_SUCCESS) r = d.cuModuleGetFunction(&rows_ld_, module_, "bench_read_rows_ld");
  if (r == CUDA_SUCCESS) r = d.cuModuleGetFunction(&rows_ca_, module_, "bench_read_rows_ca");
  if (r == CUDA_SUCCESS)  // the largest ring (512-byte rows); smaller rings take less
    r = d.cuFuncSetAttribute(rows_ca_, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                             kProbeRingStages * 2 * kProbeTileKeys * 512);
  int per_sm = 0;
  if (r == CUDA_SUCCESS) r = d.cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, read_, block_, 0);
  if (r == CUDA_SUCCESS) r = d.cuMemAlloc(&sink_, 16);
  if (r != CUDA_SUCCESS) {
    why_ = ptxfmha::cu_error_message(r, ("loading " + path_).c_str()) +
           " (bench.mk assembles it with `make bench`; PTXFMHA_BENCH_CUBIN_DIR overrides the directory)";
    read_ = empty_ = rows_ld_ = rows_ca_ = nullptr;
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

std::string ReadCeiling::launch_probe(const ReadProbe& p, const ReadProbeLaunch& l, const void* k,
                                      const void* v, CUstream s) {
  if (!ok()) return why_;
  unsigned long long pk = reinterpret_cast<unsigned long long>(k), pv = reinterpret_cast<unsigned long long>(v);
  unsigned long long bs = l.batch_stride_bytes, ks = l.key_stride_bytes, sink = sink_;
  unsigned rb = l.row_bytes, lg = l.row_vecs_log2, sk = l.split_keys, n = l.keys, is = l.issuers;
  void* args[] = {&pk, &pv, &bs, &ks, &rb, &lg, &sk, &n, &is, &sink};
  CUfunction f = p.cp_async ? rows_ca_ : rows_ld_;
  CUresult r = ptxfmha::drv().cuLaunchKernel(f, l.grid[0], l.grid[1], l.grid[2], kProbeThreads, 1, 1,
                                             l.smem_bytes, s, args, nullptr);
  return r == CUDA_SUCCESS ? "" : ptxfmha::cu_error_message(r, "cuLaunchKernel(bench_read_rows)");
}

std::string ReadCeiling::sink_after(const std::function<std::string()>& launch, CUstream s, uint32_t* x) {
  if (!ok()) return why_;
  const auto& d = ptxfmha::drv();
  CUresult r = d.cuMemsetD32Async(sink_, 0, 1, s);
  if (r != CUDA_SUCCESS) return ptxfmha::cu_error_message(r, "cuMemsetD32Async(sink)");
  std::string e = launch();
  if (!e.empty()) return e;
  r = d.cuStreamSynchronize(s);
  if (r == CUDA_SUCCESS) r = d.cuMemcpyDtoH(x, sink_, 4);
  return r == CUDA_SUCCESS ? "" : ptxfmha::cu_error_message(r, "reading the read kernels' sink");
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

void prepare_read_probes(const Case& c, CaseState& cs) {
  const std::vector<ReadProbe>& probes = g_opt.read_probes;
  cs.probe_skip.assign(probes.size(), "");
  cs.probe_launch.assign(probes.size(), ReadProbeLaunch{});
  cs.probe_timing.assign(probes.size(), MethodTiming{});
  if (probes.empty()) return;
  ReadCeiling& rc = read_ceiling();
  std::string all;
  if (!cs.ceiling_skip.empty()) all = "no read ceiling: " + cs.ceiling_skip;
  else if (c.paged() && c.seqlen_k % c.page_size != 0) all = "a page pool with a partial last page";
  const SetView v = set_view(c, cs, 0, kCeiling);
  uint32_t want = 0;
  if (all.empty())
    all = rc.sink_after([&] { return rc.launch_read(v.k, v.v, std::size_t(c.kv_bytes() / 2), g_stream); },
                        g_stream, &want);
  const char* m = std::getenv("PTXFMHA_BENCH_PROBE_MUTATE");
  const bool mutate = m != nullptr && std::string(m) == "1";
  for (std::size_t i = 0; i < probes.size(); ++i) {
    std::string& why = cs.probe_skip[i];
    why = all;
    if (why.empty())
      why = read_probe_launch(probes[i], c.batch, c.seqlen_k, c.heads_kv, c.head_dim * c.kv_elem_bytes,
                              std::max(1, cs.ours.splits), &cs.probe_launch[i]);
    if (!why.empty()) {
      std::fprintf(stderr, "  read probe %s not timed: %s\n", probes[i].name.c_str(), why.c_str());
      continue;
    }
    ReadProbeLaunch l = cs.probe_launch[i];
    if (mutate) l.keys -= kProbeTileKeys;
    uint32_t got = 0;
    why = rc.sink_after([&] { return rc.launch_probe(probes[i], l, v.k, v.v, g_stream); }, g_stream, &got);
    if (why.empty() && got != want) {
      char b[160];
      std::snprintf(b, sizeof b, "its sink XOR 0x%08x is not the ceiling kernel's 0x%08x over the same bytes", got,
                    want);
      why = b;
    }
    std::fprintf(stderr, "  read probe %s: %s (grid %u x %u x %u, %u keys a split, %u B shared)\n",
                 probes[i].name.c_str(), why.empty() ? "XOR check passed" : ("NOT TIMED: " + why).c_str(),
                 l.grid[0], l.grid[1], l.grid[2], l.split_keys, l.smem_bytes);
  }
}

}  // namespace ptxfmha_bench
