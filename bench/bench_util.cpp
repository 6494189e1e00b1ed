#include "bench_util.h"


#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "driver.h"
#include "ptxfmha/reference.h"
#include "runtime.h"

namespace ptxfmha_bench {

// ---- comparison ---------------------------------------------------------------------------

bool Agreement::ok() const { return failure().empty(); }

std::string Agreement::failure() const {
  char buf[256];
  if (count == 0) return "nothing compared";
  if (ref_nonfinite != 0) {
    std::snprintf(buf, sizeof buf, "reference has %lld non-finite values", ref_nonfinite);
    return buf;
  }
  if (nonfinite != 0) {
    std::snprintf(buf, sizeof buf, "%lld non-finite outputs (unwritten or NaN)", nonfinite);
    return buf;
  }
  if (!(rel_l2 <= kMaxRelL2)) {
    std::snprintf(buf, sizeof buf, "rel_l2 %.3e > %.0e", rel_l2, kMaxRelL2);
    return buf;
  }
  if (!(cosine >= kMinCosine)) {
    std::snprintf(buf, sizeof buf, "cosine %.6f < %.4f", cosine, kMinCosine);
    return buf;
  }
  if (has_lse && lse_mismatch_inf != 0) {
    std::snprintf(buf, sizeof buf, "LSE: %lld rows finite on one side only", lse_mismatch_inf);
    return buf;
  }
  if (has_lse && !(lse_max_abs <= kMaxLseAbs)) {
    std::snprintf(buf, sizeof buf, "LSE max_abs %.3e > %.0e", lse_max_abs, kMaxLseAbs);
    return buf;
  }
  return "";
}

std::string Agreement::summary() const {
  char buf[256];
  int n = std::snprintf(buf, sizeof buf, "rel_l2 %.2e cos %.6f max_abs %.2e", rel_l2, cosine,
                        max_abs);
  if (has_lse && n > 0 && static_cast<size_t>(n) < sizeof buf)
    std::snprintf(buf + n, sizeof buf - n, " lse_abs %.2e", lse_max_abs);
  return buf;
}

namespace {
template <class Get>
Agreement compare_impl(std::size_t n, Get get) {
  Agreement a;
  a.count = n;
  double dd = 0, rr = 0, gg = 0, gr = 0, mx = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double g, r;
    get(i, &g, &r);
    if (!std::isfinite(r)) {
      ++a.ref_nonfinite;
      continue;
    }
    if (!std::isfinite(g)) {
      ++a.nonfinite;
      continue;
    }
    double d = g - r;
    dd += d * d;
    rr += r * r;
    gg += g * g;
    gr += g * r;
    mx = std::max(mx, std::fabs(d));
  }
  a.rel_l2 = rr > 0 ? std::sqrt(dd / rr) : (dd > 0 ? INFINITY : 0.0);
  a.cosine = (gg > 0 && rr > 0) ? gr / std::sqrt(gg * rr) : (gg == 0 && rr == 0 ? 1.0 : 0.0);
  a.max_abs = mx;
  return a;
}

template <class Ref>
void compare_lse_impl(const float* got, const Ref* ref, std::size_t n, Agreement* a) {
  a->has_lse = true;
  double mx = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double g = got[i], r = static_cast<double>(ref[i]);
    bool gf = std::isfinite(g), rf = std::isfinite(r);
    if (gf != rf) {
      ++a->lse_mismatch_inf;
      continue;
    }
    if (!gf) {
      // Both non-finite: equal only when both are -inf (a row that sees no key).
      if (!(g == r && g < 0)) ++a->lse_mismatch_inf;
      continue;
    }
    mx = std::max(mx, std::fabs(g - r));
  }
  a->lse_max_abs = mx;
}
}  // namespace

Agreement compare_bf16(const uint16_t* got, const uint16_t* ref, std::size_t n) {
  return compare_impl(n, [&](std::size_t i, double* g, double* r) {
    *g = float_from_bf16(got[i]);
    *r = float_from_bf16(ref[i]);
  });
}

Agreement compare_double(const double* got, const double* ref, std::size_t n) {
  return compare_impl(n, [&](std::size_t i, double* g, double* r) {
    *g = got[i];
    *r = ref[i];
  });
}

void compare_lse(const float* got, const float* ref, std::size_t n, Agreement* a) {
  compare_lse_impl(got, ref, n, a);
}
void compare_lse(const float* got, const double* ref, std::size_t n, Agreement* a) {
  compare_lse_impl(got, ref, n, a);
}

// ---- host data ---------------------------------------------------------------------------------

uint16_t bf16_from_float(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
  return static_cast<uint16_t>(u >> 16);
}

float float_from_bf16(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

namespace {
// splitmix64: a counter-based generator, so each thread can start anywhere.
inline uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
}  // namespace

void fill_normal_bf16(uint16_t* dst, std::size_t n, uint64_t seed) {
  unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  std::size_t threads = std::min<std::size_t>(hw, std::max<std::size_t>(1, n / (1 << 20)));
  auto work = [&](std::size_t lo, std::size_t hi) {
    // Box-Muller on pairs: element 2k and 2k+1 come from counter k.
    for (std::size_t i = lo & ~std::size_t(1); i < hi; i += 2) {
      uint64_t r = splitmix(seed * 0x100000001b3ull + i / 2);
      double u1 = ((r >> 11) + 1) * (1.0 / 9007199254740993.0);  // (0, 1]
      double u2 = (splitmix(r) >> 11) * (1.0 / 9007199254740992.0);
      double rad = std::sqrt(-2.0 * std::log(u1));
      double z0 = rad * std::cos(6.283185307179586 * u2);
      double z1 = rad * std::sin(6.283185307179586 * u2);
      if (i >= lo && i < hi) dst[i] = bf16_from_float(static_cast<float>(z0));
      if (i + 1 >= lo && i + 1 < hi) dst[i + 1] = bf16_from_float(static_cast<float>(z1));
    }
  };
  if (threads <= 1) {
    work(0, n);
    return;
  }
  std::vector<std::thread> pool;
  std::size_t chunk = (n + threads - 1) / threads;
  for (std::size_t t = 0; t < threads; ++t) {
    std::size_t lo = t * chunk, hi = std::min(n, lo + chunk);
    if (lo < hi) pool.emplace_back(work, lo, hi);
  }
  for (auto& th : pool) th.join();
}

// ---- device ------------------------------------------------------------------------------------

void cu_check(CUresult r, const char* what) {
  if (r != CUDA_SUCCESS) throw std::runtime_error(ptxfmha::cu_error_message(r, what));
}

void DeviceBuffer::alloc(std::size_t bytes) {
  release();
  if (bytes == 0) return;
  cu_check(ptxfmha::drv().cuMemAlloc(&ptr_, bytes), "cuMemAlloc");
  bytes_ = bytes;
}

void DeviceBuffer::release() {
  if (ptr_) ptxfmha::drv().cuMemFree(ptr_);
  ptr_ = 0;
  bytes_ = 0;
}

void upload_random_bf16(CUdeviceptr dst, std::size_t elems, uint64_t seed) {
  const auto& d = ptxfmha::drv();
  const std::size_t chunk = std::size_t(32) << 20;  // elements (64 MiB)
  void* host = nullptr;
  cu_check(d.cuMemAllocHost(&host, std::min(chunk, elems) * 2), "cuMemAllocHost");
  try {
    for (std::size_t off = 0; off < elems; off += chunk) {
      std::size_t n = std::min(chunk, elems - off);
      // Seed per chunk so the stream of values does not depend on the chunk size.
      fill_normal_bf16(static_cast<uint16_t*>(host), n, seed ^ splitmix(off / chunk + 1));
      cu_check(d.cuMemcpyHtoD(dst + off * 2, host, n * 2), "cuMemcpyHtoD");
    }
  } catch (...) {
    d.cuMemFreeHost(host);
    throw;
  }
  d.cuMemFreeHost(host);
}

void download(void* dst, CUdeviceptr src, std::size_t bytes) {
  cu_check(ptxfmha::drv().cuMemcpyDtoH(dst, src, bytes), "cuMemcpyDtoH");
}

HostStaging::~HostStaging() { release(); }

void HostStaging::release() {
  if (ptr_ != nullptr && locked_) ptxfmha::drv().cuMemFreeHost(ptr_);
  if (ptr_ != nullptr && !locked_) std::free(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

void* HostStaging::reserve(std::size_t bytes) {
  if (bytes <= bytes_) return ptr_;
  release();
  locked_ = ptxfmha::drv().cuMemAllocHost(&ptr_, bytes) == CUDA_SUCCESS;
  if (!locked_) {  // e.g. the locked-memory limit
    ptr_ = std::malloc(bytes);
    if (ptr_ == nullptr) throw std::runtime_error("out of host memory: " + std::to_string(bytes) + " bytes");
  }
  bytes_ = bytes;
  return ptr_;
}

EventPairs::~EventPairs() {
  for (auto e : start_) ptxfmha::drv().cuEventDestroy(e);
  for (auto e : end_) ptxfmha::drv().cuEventDestroy(e);
}

void EventPairs::resize(std::size_t n) {
  const auto& d = ptxfmha::drv();
  while (start_.size() < n) {
    CUevent a = nullptr, b = nullptr;
    cu_check(d.cuEventCreate(&a, CU_EVENT_DEFAULT), "cuEventCreate");
    cu_check(d.cuEventCreate(&b, CU_EVENT_DEFAULT), "cuEventCreate");
    start_.push_back(a);
    end_.push_back(b);
  }
}

void EventPairs::record_start(std::size_t i, CUstream s) {
  cu_check(ptxfmha::drv().cuEventRecord(start_[i], s), "cuEventRecord");
}
void EventPairs::record_end(std::size_t i, CUstream s) {
  cu_check(ptxfmha::drv().cuEventRecord(end_[i], s), "cuEventRecord");
}
void EventPairs::synchronize_last(std::size_t i) {
  cu_check(ptxfmha::drv().cuEventSynchronize(end_[i]), "cuEventSynchronize");
}
float EventPairs::elapsed_ms(std::size_t i) const {
  float ms = 0;
  cu_check(ptxfmha::drv().cuEventElapsedTime(&ms, start_[i], end_[i]), "cuEventElapsedTime");
  return ms;
}

#ifndef PTXFMHA_BENCH_CUBIN_DIR
#define PTXFMHA_BENCH_CUBIN_DIR "build/cubin-bench"
#endif

std::string read_stream_cubin_path(const char* arch) {
  const char* env = std::getenv("PTXFMHA_BENCH_CUBIN_DIR");
  return std::string(env ? env : PTXFMHA_BENCH_CUBIN_DIR) + "/read_stream_" + arch + ".cubin";
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + m, v.end());
  double hi = v[m];
  if (v.size() % 2) return hi;
  double lo = *std::max_element(v.begin(), v.begin() + m);
  return 0.5 * (lo + hi);
}

void reference_dense(const RefProblem& p, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                     std::vector<double>* out, std::vector<double>* lse) {
  ptxfmha::RefShape s{};
  s.batch = int(p.batch);
  s.seqlen_q = int(p.seqlen_q);
  s.seqlen_k = int(p.seqlen_k);
  s.heads_q = int(p.heads_q);
  s.heads_kv = int(p.heads_kv);
  s.head_dim = int(p.head_dim);
  s.causal = p.causal;
  s.softmax_scale = p.softmax_scale;
  const int64_t H = p.heads_q, Hkv = p.heads_kv, D = p.head_dim;
  s.q_stride[0] = p.seqlen_q * H * D; s.q_stride[1] = H * D; s.q_stride[2] = D;
  s.k_stride[0] = p.seqlen_k * Hkv * D; s.k_stride[1] = Hkv * D; s.k_stride[2] = D;
  s.v_stride[0] = s.k_stride[0]; s.v_stride[1] = s.k_stride[1]; s.v_stride[2] = s.k_stride[2];
  // The shared reference spreads (batch, head) pairs over threads itself.
  ptxfmha::reference_fwd(s, q, k, v, *out, *lse);
}

const ptxfmha::KernelInfo* forward_row_named(const std::string& name) {
  for (const ptxfmha::KernelInfo* r : ptxfmha::all_kernels())
    if (r->kind == ptxfmha::KernelKind::Fwd && name == r->name) return r;
  return nullptr;
}

}  // namespace ptxfmha_bench
