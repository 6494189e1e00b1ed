#include "gpu_monitor.h"

#include <dlfcn.h>

namespace ptxfmha_bench {
namespace {

// The few NVML entry points used, with the types of nvml.h (stable C ABI since NVML 4).
using nvmlReturn_t = int;
using nvmlDevice_t = void*;
constexpr int kNvmlClockSm = 1;        // NVML_CLOCK_SM
using InitFn = nvmlReturn_t (*)();
using ByBusFn = nvmlReturn_t (*)(const char*, nvmlDevice_t*);
using ClockFn = nvmlReturn_t (*)(nvmlDevice_t, int, unsigned*);
using PowerFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned*);
using ReasonsFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned long long*);

struct Nvml {
  bool loaded = false;
  std::string why;
  ByBusFn by_bus = nullptr;
  ClockFn clock = nullptr;
  PowerFn power = nullptr;
  ReasonsFn reasons = nullptr;
};

const Nvml& nvml() {
  static const Nvml n = [] {
    Nvml r;
    void* h = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      r.why = "libnvidia-ml.so.1 not found";
      return r;
    }
    auto init = reinterpret_cast<InitFn>(dlsym(h, "nvmlInit_v2"));
    r.by_bus = reinterpret_cast<ByBusFn>(dlsym(h, "nvmlDeviceGetHandleByPciBusId_v2"));
    r.clock = reinterpret_cast<ClockFn>(dlsym(h, "nvmlDeviceGetClockInfo"));
    r.power = reinterpret_cast<PowerFn>(dlsym(h, "nvmlDeviceGetPowerUsage"));
    r.reasons = reinterpret_cast<ReasonsFn>(dlsym(h, "nvmlDeviceGetCurrentClocksEventReasons"));
    if (!r.reasons)  // the older name of the same call
      r.reasons = reinterpret_cast<ReasonsFn>(dlsym(h, "nvmlDeviceGetCurrentClocksThrottleReasons"));
    if (!init || !r.by_bus || !r.clock || !r.power) {
      r.why = "libnvidia-ml.so.1 lacks a needed symbol";
      return r;
    }
    const nvmlReturn_t rc = init();
    if (rc != 0) {
      r.why = "nvmlInit_v2 returned " + std::to_string(rc);
      return r;
    }
    r.loaded = true;
    return r;
  }();
  return n;
}

}  // namespace

bool GpuMonitor::open(const char* pci_bus_id) {
  const Nvml& n = nvml();
  if (!n.loaded) {
    why_ = n.why;
    return false;
  }
  nvmlDevice_t d = nullptr;
  const nvmlReturn_t rc = n.by_bus(pci_bus_id, &d);
  if (rc != 0 || !d) {
    why_ = std::string("nvmlDeviceGetHandleByPciBusId_v2(") + pci_bus_id + ") returned " +
           std::to_string(rc);
    return false;
  }
  dev_ = d;
  why_.clear();
  return true;
}

bool GpuMonitor::sample(GpuSample* out) {
  if (!dev_) return false;
  const Nvml& n = nvml();
  GpuSample s;
  nvmlReturn_t rc = n.clock(dev_, kNvmlClockSm, &s.sm_mhz);
  if (rc == 0) rc = n.power(dev_, &s.power_mw);
  if (rc == 0 && n.reasons) rc = n.reasons(dev_, &s.reasons);
  if (rc != 0) {
    why_ = "an NVML query returned " + std::to_string(rc) + "; sampling off";
    dev_ = nullptr;
    return false;
  }
  *out = s;
  return true;
}

std::string GpuMonitor::reasons_text(unsigned long long r) {
  // nvml.h: nvmlClocksEventReason* bits; idle (0x1) and application-clock setting (0x2) do
  // not lower clocks under load and are left out.
  static const struct { unsigned long long bit; const char* name; } kBits[] = {
      {0x4ull, "power cap"},       {0x8ull, "hw slowdown"},    {0x20ull, "sw thermal"},
      {0x40ull, "hw thermal"},     {0x80ull, "hw power brake"}, {0x100ull, "display clocks"}};
  std::string s;
  for (const auto& b : kBits)
    if (r & b.bit) s += (s.empty() ? "" : ", ") + std::string(b.name);
  return s;
}

}  // namespace ptxfmha_bench
