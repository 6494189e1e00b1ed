// Helpers of the benchmark: device buffers and events through the Driver API (host/src/driver.h),
// random bf16 data, output comparison and its pass/fail rule, and sampled float64 checks
// through the shared CPU reference (host/include/ptxfmha/reference.h).
//
// The comparison rule lives here, apart from the GPU code, so bench_verify_test can show on a
// machine without a GPU that it accepts bf16 rounding and rejects real errors.
#pragma once
#include <cuda.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernel_table.h"
#include "ptxfmha/ptxfmha.h"

namespace ptxfmha_bench {

// ---- comparison ---------------------------------------------------------------------------
// Two bf16 attention outputs agree when all of these hold. bf16 outputs of two fp32-accumulating
// kernels differ by rounding (relative L2 about 3e-3); a layout, mask or scale bug moves the
// cosine far below 0.9999 (PTX_NOTES: "a cosine of 0.93 is a bug, never precision").
constexpr double kMaxRelL2 = 1e-2;
constexpr double kMinCosine = 0.9999;
constexpr double kMaxLseAbs = 2e-2;  // natural-log LSE, fp32 on both sides

struct Agreement {
  std::size_t count = 0;
  double rel_l2 = 0;    // ||got - ref|| / ||ref||
  double cosine = 0;    // <got, ref> / (||got|| ||ref||); 0 when either is all zero
  double max_abs = 0;   // max |got - ref| over finite pairs
  long long nonfinite = 0;  // NaN/inf in got (an output never written stays NaN-poisoned)
  long long ref_nonfinite = 0;
  bool has_lse = false;
  double lse_max_abs = 0;   // max |lse_got - lse_ref| over rows where ref is finite
  long long lse_mismatch_inf = 0;  // rows where exactly one of the two is -inf/NaN
  bool ok() const;
  std::string summary() const;  // "rel_l2 3.1e-03 cos 0.999995 max_abs 7.8e-03 lse 1.2e-05"
  std::string failure() const;  // which rule failed, "" when ok()
};

// bf16 bit patterns; `ref` is the reference side.
Agreement compare_bf16(const uint16_t* got, const uint16_t* ref, std::size_t n);
// Doubles (float64 reference side).
Agreement compare_double(const double* got, const double* ref, std::size_t n);
// Adds LSE figures (fp32 vs fp32, or fp32 vs double) to an Agreement.
void compare_lse(const float* got, const float* ref, std::size_t n, Agreement* a);
void compare_lse(const float* got, const double* ref, std::size_t n, Agreement* a);

// ---- host data ---------------------------------------------------------------------------------
// n bf16 values, standard normal, deterministic in (seed, index); several threads.
void fill_normal_bf16(uint16_t* dst, std::size_t n, uint64_t seed);
uint16_t bf16_from_float(float f);
float float_from_bf16(uint16_t b);

// ---- device ------------------------------------------------------------------------------------

// Throws std::runtime_error with the CUresult text on failure (bench setup code only).
void cu_check(CUresult r, const char* what);

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes) { alloc(bytes); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = 0; o.bytes_ = 0; }
  void alloc(std::size_t bytes);
  void release();
  CUdeviceptr ptr() const { return ptr_; }
  void* get(std::size_t byte_offset = 0) const {
    return reinterpret_cast<void*>(ptr_ + byte_offset);
  }
  std::size_t bytes() const { return bytes_; }

 private:
  CUdeviceptr ptr_ = 0;
  std::size_t bytes_ = 0;
};

// Fills `bytes` of device memory at dst with random normal bf16 (seeded), through a pinned
// staging buffer, 64 MiB at a time.
void upload_random_bf16(CUdeviceptr dst, std::size_t elems, uint64_t seed);
void download(void* dst, CUdeviceptr src, std::size_t bytes);

// Wall seconds since t0 (steady clock).
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Host memory that grows on demand and is kept, page-locked where the driver grants it (the
// reference's K / V copies: a kv-128k cell copies GiBs, which page-locked memory receives at
// the copy engine's rate), else ordinary memory (a host that cannot lock that much still runs).
class HostStaging {
 public:
  HostStaging() = default;
  ~HostStaging();
  HostStaging(const HostStaging&) = delete;
  HostStaging& operator=(const HostStaging&) = delete;
  void* reserve(std::size_t bytes);  // at least `bytes`; the contents are not kept

 private:
  void release();
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
  bool locked_ = false;
};

// Event pairs around launches on one stream: record(i) before/after, then elapsed_ms(i).
class EventPairs {
 public:
  EventPairs() = default;
  ~EventPairs();
  void resize(std::size_t n);  // creates missing events
  std::size_t size() const { return start_.size(); }
  void record_start(std::size_t i, CUstream s);
  void record_end(std::size_t i, CUstream s);
  void synchronize_last(std::size_t i);
  float elapsed_ms(std::size_t i) const;

 private:
  std::vector<CUevent> start_, end_;
};

double median(std::vector<double> v);

// bench/read_stream.ptx's cubin for a kernel folder ("sm90a"): $PTXFMHA_BENCH_CUBIN_DIR, else the
// build's cubin-bench directory (bench.mk), + "/read_stream_<arch>.cubin". The read ceiling and
// the placement probe load it.
std::string read_stream_cubin_path(const char* arch);

// ---- float64 reference, parallel ---------------------------------------------------------------
struct RefProblem {
  int64_t batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim;
  bool causal;
  double softmax_scale;
};
// ptxfmha::reference_fwd (the shared float64 reference, threaded over (batch, head) pairs) on
// dense [batch, seq, heads, head_dim] bf16 inputs. out: dense [batch, seqlen_q,
// heads_q, head_dim]; lse: [batch, heads_q, seqlen_q] (natural log, -inf for rows without keys).
void reference_dense(const RefProblem& p, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                     std::vector<double>* out, std::vector<double>* lse);

// ---- --ptxfmha_fwd_kernel ------------------------------------------------------------------------
// The forward kernel-table row called `name` (any arch), or nullptr: the bench refuses a name
// that is not a forward kernel before running anything.
const ptxfmha::KernelInfo* forward_row_named(const std::string& name);

}  // namespace ptxfmha_bench
