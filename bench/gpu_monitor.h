// GPU clock / power / throttle sampling for the benchmark, through NVML opened at run time.
//
// Attention kernels on an H100 run into the board's power limit: the SM clock then drops
// and a kernel's time moves with it. The benchmark samples the SM clock, board power and
// the clock-event (throttle) reasons while each timed batch runs, and reports their means
// per entry, so that a ratio between two kernels can be read together with the clocks they
// ran at. libnvidia-ml.so.1 ships with the driver; nothing links it. Without it (or on a
// failing call) sampling is off and `why()` says so.
#pragma once

#include <cstdint>
#include <string>

namespace ptxfmha_bench {

struct GpuSample {
  unsigned sm_mhz = 0;
  unsigned power_mw = 0;
  unsigned long long reasons = 0;  // NVML clocks event reasons bit mask
};

class GpuMonitor {
 public:
  // Opens NVML and the device with this PCI bus id ("0000:65:00.0", cuDeviceGetPCIBusId).
  bool open(const char* pci_bus_id);
  bool ok() const { return dev_ != nullptr; }
  const std::string& why() const { return why_; }
  // One sample now; false (and sampling turned off) if NVML fails.
  bool sample(GpuSample* out);
  // "power cap", "thermal", ... for the reasons that lower clocks ("" if none).
  static std::string reasons_text(unsigned long long reasons);

 private:
  void* dev_ = nullptr;
  std::string why_ = "not opened";
};

// Running means of samples taken during one entry's timed batches.
struct GpuSampleStats {
  int n = 0;
  double mhz = 0, watts = 0;
  unsigned long long reasons = 0;  // union of every sample's reasons
  void add(const GpuSample& s) {
    ++n;
    mhz += (double(s.sm_mhz) - mhz) / n;
    watts += (s.power_mw * 1e-3 - watts) / n;
    reasons |= s.reasons;
  }
};

}  // namespace ptxfmha_bench
