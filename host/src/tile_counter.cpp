// Per-(context, stream) tile counters of the persistent kernels' dynamic schedulers. See
// tile_counter.h.
#include "tile_counter.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>

#include "driver.h"
#include "status.h"

namespace ptxfmha {

namespace {

// (context id, stream handle, host thread for CU_STREAM_PER_THREAD else 0)
using CounterKey = std::tuple<unsigned long long, uintptr_t, std::size_t>;
constexpr std::size_t kCounterBytes = 8;     // 2 x u32
constexpr std::size_t kSlabBytes = 4096;     // one allocation serves 512 streams
struct CounterSlab {
  CUdeviceptr base = 0;
  std::size_t used = 0;
};
struct CounterGlobals {
  std::mutex mutex;
  std::map<CounterKey, CUdeviceptr> counters;
  std::map<unsigned long long, CounterSlab> slabs;  // current slab per context
};
CounterGlobals& counter_globals() {
  static CounterGlobals g;
  return g;
}

}  // namespace

ptxfmha_status tile_counter(const DeviceInfo& info, CUstream stream, CUdeviceptr* out) {
  const DriverApi& d = drv();
  *out = 0;
  CUstreamCaptureStatus cap = CU_STREAM_CAPTURE_STATUS_NONE;
  const CUresult rc = d.cuStreamIsCapturing(stream, &cap);
  // Not capturing, or the query itself says a capture is in the way (e.g. the legacy stream
  // while another stream captures in global mode: the launch will report that itself).
  if (rc != CUDA_SUCCESS || cap != CU_STREAM_CAPTURE_STATUS_NONE) return PTXFMHA_OK;
  uintptr_t handle = reinterpret_cast<uintptr_t>(stream);
  if (stream == CU_STREAM_LEGACY) handle = 0;  // the same stream as NULL
  const std::size_t thread =
      stream == CU_STREAM_PER_THREAD ? std::hash<std::thread::id>()(std::this_thread::get_id()) : 0;
  const CounterKey key(info.ctx_id, handle, thread);
  CounterGlobals& g = counter_globals();
  std::lock_guard<std::mutex> lock(g.mutex);
  auto it = g.counters.find(key);
  if (it != g.counters.end()) {
    *out = it->second;
    return PTXFMHA_OK;
  }
  CounterSlab& slab = g.slabs[info.ctx_id];
  if (slab.base == 0 || slab.used + kCounterBytes > kSlabBytes) {
    CUdeviceptr p = 0;
    CUresult r = d.cuMemAlloc(&p, kSlabBytes);
    if (r != CUDA_SUCCESS) return fail_cuda(r, "cuMemAlloc (tile counters)");
    r = d.cuMemsetD32(p, 0, kSlabBytes / 4);
    // The memset is asynchronous and runs on the legacy stream, which a non-blocking stream
    // does not wait for: without this sync a first launch there could read a counter that
    // is not zero yet (and skip or repeat work tiles). Once per slab of 512 counters.
    if (r == CUDA_SUCCESS) r = d.cuStreamSynchronize(CU_STREAM_LEGACY);
    if (r != CUDA_SUCCESS) {
      d.cuMemFree(p);
      return fail_cuda(r, "cuMemsetD32 + cuStreamSynchronize (tile counters)");
    }
    slab.base = p;
    slab.used = 0;
  }
  const CUdeviceptr p = slab.base + slab.used;
  slab.used += kCounterBytes;
  g.counters.emplace(key, p);
  *out = p;
  return PTXFMHA_OK;
}

void forget_context_tile_counters(unsigned long long ctx_id) {
  CounterGlobals& g = counter_globals();
  std::lock_guard<std::mutex> lock(g.mutex);
  for (auto it = g.counters.begin(); it != g.counters.end();) {
    if (std::get<0>(it->first) == ctx_id) it = g.counters.erase(it);
    else ++it;
  }
  g.slabs.erase(ctx_id);
}

}  // namespace ptxfmha
