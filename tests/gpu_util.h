// Shared helpers for the test binary: environment, device probe, test-suite gating, device
// buffers, strided bf16 tensors, a forward-attention case runner, the float64 reference
// (parallel) and the error figures every GPU test prints. Header-only (inline), used by every
// tests/test_*.cpp, the GPU tests of H4 (sm100a) and H5 (decode) included.
//
// Skipping. GPU tests are never "passed" on a machine that cannot run them: tests/main.cpp
// probes the machine once and excludes the test suites it cannot run, so doctest reports
// those test cases as skipped. Put every test case that needs something into one of these
// suites (TEST_CASE("..." * doctest::test_suite("gpu-fwd")) or a TEST_SUITE block):
//   "gpu"        a CUDA device whose architecture has kernels (sm90a or sm100a)
//   "gpu-fwd"    such a device and at least one forward (KernelKind::Fwd) row for its arch
//   "gpu-decode" such a device and at least one KernelKind::Decode row for its arch
//   "gpu-sm90a"  a device of compute capability 9.0
//   "gpu-sm100a" a device of compute capability 10.x
//   "sass"       a cuobjdump to disassemble cubins with
// main.cpp prints which suites it skipped and why.
//
// Environment (tests/tests.mk sets these when `make test` runs the binary):
//   PTXFMHA_SOURCE_DIR   repository root (ptx/ sources); default: the working directory
//   PTXFMHA_BUILD_DIR    build directory (preprocessed PTX, cubins, ptxas reports); default "build"
//   PTXFMHA_CUBIN_DIR    read by the library itself (<dir>/<arch>/<kernel>.cubin)
//   PTXFMHA_CUOBJDUMP    cuobjdump to use; default: $CUDA/bin, PATH, .deps/bin
//   PTXFMHA_TEST_SEED    seed of the randomized-shape test (default: random, printed)
//   PTXFMHA_TEST_SHAPES  number of randomized shapes (default 300)
#pragma once
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "driver.h"
#include "fwd.h"
#include "kernel_table.h"
#include "ptxfmha/ptxfmha.h"
#include "ptxfmha/reference.h"
#include "runtime.h"

namespace ptxfmha_test {

// ---- environment ------------------------------------------------------------------------
// doctest prints a `const char*` as a pointer: stream str(p) instead.
inline std::string str(const char* s) { return s != nullptr ? std::string(s) : std::string("(null)"); }

inline std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? std::string(v) : fallback;
}
inline std::string source_dir() { return env_or("PTXFMHA_SOURCE_DIR", "."); }
inline std::string build_dir() { return env_or("PTXFMHA_BUILD_DIR", "build"); }
inline bool file_exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }
inline bool is_executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

// ptxas: $PTXAS, else $CUDA/bin/ptxas, else /usr/local/cuda/bin/ptxas.
inline std::string ptxas_path() {
  if (const char* p = std::getenv("PTXAS")) return p;
  if (const char* c = std::getenv("CUDA")) return std::string(c) + "/bin/ptxas";
  return "/usr/local/cuda/bin/ptxas";
}

// cuobjdump: $PTXFMHA_CUOBJDUMP, $CUDA/bin (default /usr/local/cuda), PATH, .deps/bin.
// "" when there is none.
inline std::string cuobjdump_path() {
  static const std::string path = [] {
    std::string p = env_or("PTXFMHA_CUOBJDUMP", "");
    if (!p.empty()) return is_executable(p) ? p : std::string();
    std::vector<std::string> cands = {env_or("CUDA", "/usr/local/cuda") + "/bin/cuobjdump"};
    std::string path_env = env_or("PATH", "");
    std::stringstream ss(path_env);
    for (std::string dir; std::getline(ss, dir, ':');)
      if (!dir.empty()) cands.push_back(dir + "/cuobjdump");
    cands.push_back(source_dir() + "/.deps/bin/cuobjdump");
    for (const std::string& c : cands)
      if (is_executable(c)) return c;
    return std::string();
  }();
  return path;
}

// Runs a shell command, returns its stdout; *rc gets the exit status (-1 if it could not run).
inline std::string run_command(const std::string& cmd, int* rc) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) {
    *rc = -1;
    return out;
  }
  char buf[65536];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  int st = pclose(f);
  *rc = (st == -1) ? -1 : (WIFEXITED(st) ? WEXITSTATUS(st) : 128);
  return out;
}

inline std::string read_text_file(const std::string& path, bool* ok = nullptr) {
  std::string out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (ok) *ok = (f != nullptr);
  if (f == nullptr) return out;
  char buf[65536];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  std::fclose(f);
  return out;
}

// ---- device probe and suite gating --------------------------------------------------------
struct GpuProbe {
  bool present = false;         // a context could be made current
  std::string why;              // why not (library message), or "" when present
  ptxfmha::DeviceInfo info;     // valid when present; info.arch may be null (no kernels)
  std::string name;             // device name
};

// Probed once per process (ptxfmha::acquire_context, which makes device 0's primary context
// current on the calling thread).
inline const GpuProbe& gpu() {
  static const GpuProbe probe = [] {
    GpuProbe p;
    ptxfmha_status st = ptxfmha::acquire_context(&p.info);
    if (st != PTXFMHA_OK) {
      p.why = std::string(ptxfmha_status_string(st)) + ": " + ptxfmha_last_error();
      return p;
    }
    p.present = true;
    char name[256] = {0};
    if (ptxfmha::drv().cuDeviceGetName(name, sizeof name - 1, p.info.device) == CUDA_SUCCESS)
      p.name = name;
    return p;
  }();
  return probe;
}

inline std::vector<const ptxfmha::KernelInfo*> rows_for(const char* arch, ptxfmha::KernelKind kind) {
  std::vector<const ptxfmha::KernelInfo*> out;
  if (arch == nullptr) return out;
  for (const ptxfmha::KernelInfo* r : ptxfmha::all_kernels())
    if (r->kind == kind && std::strcmp(r->arch, arch) == 0) out.push_back(r);
  return out;
}
// Forward rows for the device's architecture (empty without a device).
inline std::vector<const ptxfmha::KernelInfo*> device_fwd_rows() {
  return gpu().present ? rows_for(gpu().info.arch, ptxfmha::KernelKind::Fwd)
                       : std::vector<const ptxfmha::KernelInfo*>{};
}

// The forward rows the GPU tests run through the public ptxfmha_fwd: every row of the
// device's arch that it selects for its head dim.
inline std::vector<const ptxfmha::KernelInfo*> testable_fwd_rows() {
  std::vector<const ptxfmha::KernelInfo*> out;
  for (const ptxfmha::KernelInfo* r : device_fwd_rows())
    if (ptxfmha::find_kernel(gpu().info.sm, ptxfmha::KernelKind::Fwd, r->head_dim) == r) out.push_back(r);
  return out;
}
// Comparison variants: rows of the device's arch that ptxfmha_fwd never selects (another row
// serves their head dim). Tests run them through ptxfmha::fwd_with_row (FwdProblem::row).
inline std::vector<const ptxfmha::KernelInfo*> variant_fwd_rows() {
  std::vector<const ptxfmha::KernelInfo*> out;
  for (const ptxfmha::KernelInfo* r : device_fwd_rows())
    if (ptxfmha::find_kernel(gpu().info.sm, ptxfmha::KernelKind::Fwd, r->head_dim) != r) out.push_back(r);
  return out;
}

// (suite, reason) for every suite this machine cannot run.
inline std::vector<std::pair<std::string, std::string>> unavailable_suites() {
  std::vector<std::pair<std::string, std::string>> out;
  const GpuProbe& g = gpu();
  const char* all[] = {"gpu", "gpu-fwd", "gpu-decode", "gpu-sm90a", "gpu-sm100a"};
  if (!g.present) {
    for (const char* s : all) out.emplace_back(s, "no usable CUDA device");
  } else if (g.info.arch == nullptr) {
    char why[160];
    std::snprintf(why, sizeof why, "device '%s' is sm_%d (cc %d.%d): ptx-fmha has no kernels for it",
                  g.name.c_str(), g.info.sm, g.info.cc_major, g.info.cc_minor);
    for (const char* s : all) out.emplace_back(s, why);
  } else {
    const std::string arch = g.info.arch;
    const std::string dev = "device '" + g.name + "' is " + arch;
    if (rows_for(g.info.arch, ptxfmha::KernelKind::Fwd).empty())
      out.emplace_back("gpu-fwd", dev + " and the kernel table has no forward kernel for it");
    if (rows_for(g.info.arch, ptxfmha::KernelKind::Decode).empty())
      out.emplace_back("gpu-decode", dev + " and the kernel table has no decode kernel for it");
    if (arch != "sm90a") out.emplace_back("gpu-sm90a", dev + ", not sm90a");
    if (arch != "sm100a") out.emplace_back("gpu-sm100a", dev + ", not sm100a");
  }
  // Tests of what a machine without a usable driver/device must say: run only there.
  if (g.present) out.emplace_back("no-gpu", "a CUDA device is present");
  if (cuobjdump_path().empty())
    out.emplace_back("sass", "no cuobjdump ($PTXFMHA_CUOBJDUMP, $CUDA/bin, PATH, .deps/bin; `make deps` installs one)");
  return out;
}

// ---- CUDA helpers -------------------------------------------------------------------------
inline const ptxfmha::DriverApi& cu() { return ptxfmha::drv(); }

// Makes the library's context current on the calling thread (test threads call this first).
// Returns false (and FAILs) when it cannot.
inline bool ensure_context() {
  ptxfmha::DeviceInfo info;
  ptxfmha_status st = ptxfmha::acquire_context(&info);
  if (st != PTXFMHA_OK) {
    FAIL_CHECK("acquire_context: " << str(ptxfmha_status_string(st)) << ": " << str(ptxfmha_last_error()));
    return false;
  }
  return true;
}

#define PTXFMHA_CU_CHECK(call)                                                          \
  do {                                                                                   \
    CUresult r_ = (call);                                                                \
    REQUIRE_MESSAGE(r_ == CUDA_SUCCESS, ptxfmha::cu_error_message(r_, #call));           \
  } while (0)

// Device allocation, freed on destruction. Usable from any thread with the context current.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes) { alloc(bytes); }
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = 0; o.bytes_ = 0; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) { reset(); ptr_ = o.ptr_; bytes_ = o.bytes_; o.ptr_ = 0; o.bytes_ = 0; }
    return *this;
  }

  void alloc(std::size_t bytes) {
    reset();
    // Round up to 16 bytes; at least one element so that a pointer exists.
    std::size_t b = std::max<std::size_t>(16, (bytes + 15) / 16 * 16);
    PTXFMHA_CU_CHECK(cu().cuMemAlloc(&ptr_, b));
    bytes_ = b;
  }
  void reset() {
    if (ptr_ != 0) cu().cuMemFree(ptr_);
    ptr_ = 0;
    bytes_ = 0;
  }
  CUdeviceptr ptr() const { return ptr_; }
  void* get() const { return reinterpret_cast<void*>(ptr_); }
  std::size_t bytes() const { return bytes_; }

  template <class T> void upload(const std::vector<T>& h) {
    REQUIRE(h.size() * sizeof(T) <= bytes_);
    if (!h.empty()) PTXFMHA_CU_CHECK(cu().cuMemcpyHtoD(ptr_, h.data(), h.size() * sizeof(T)));
  }
  template <class T> void download(std::vector<T>& h, std::size_t count) const {
    REQUIRE(count * sizeof(T) <= bytes_);
    h.resize(count);
    if (count) PTXFMHA_CU_CHECK(cu().cuMemcpyDtoH(h.data(), ptr_, count * sizeof(T)));
  }
  // Poison: every 16-bit word / 32-bit word of the first `count` elements.
  void fill16(uint16_t v, std::size_t count, CUstream s = nullptr) {
    PTXFMHA_CU_CHECK(cu().cuMemsetD16Async(ptr_, v, count, s));
  }
  void fill32(uint32_t v, std::size_t count, CUstream s = nullptr) {
    PTXFMHA_CU_CHECK(cu().cuMemsetD32Async(ptr_, v, count, s));
  }

 private:
  CUdeviceptr ptr_ = 0;
  std::size_t bytes_ = 0;
};

// Poison patterns written into outputs before every launch.
constexpr uint16_t kPoisonBf16 = 0xFFFF;      // a bf16 NaN no kernel produces by itself
constexpr uint32_t kPoisonF32 = 0xFFFFFFFFu;  // an fp32 NaN

// ---- strided bf16 tensors [batch, seq, heads, head_dim] -----------------------------------
enum class Order { BSHD, BHSD };  // which of seq/heads is the outer dim inside a batch

struct Layout {
  int64_t stride[3] = {0, 0, 0};  // batch, seq, head (elements); head_dim contiguous
  int64_t elems = 0;              // buffer size in elements
};

// pads in elements, multiples of 8 keep every stride 16-byte aligned (the library's rule)
inline Layout make_layout(int batch, int seq, int heads, int head_dim, Order order = Order::BSHD,
                          int pad_inner = 0, int pad_outer = 0, int pad_batch = 0) {
  Layout l;
  if (order == Order::BSHD) {
    l.stride[2] = head_dim + pad_inner;                       // head
    l.stride[1] = int64_t(heads) * l.stride[2] + pad_outer;   // seq
    l.stride[0] = int64_t(seq) * l.stride[1] + pad_batch;     // batch
  } else {
    l.stride[1] = head_dim + pad_inner;                       // seq
    l.stride[2] = int64_t(seq) * l.stride[1] + pad_outer;     // head
    l.stride[0] = int64_t(heads) * l.stride[2] + pad_batch;   // batch
  }
  l.elems = int64_t(batch - 1) * l.stride[0] + int64_t(seq - 1) * l.stride[1] +
            int64_t(heads - 1) * l.stride[2] + head_dim;
  return l;
}

inline int64_t elem_index(const Layout& l, int b, int s, int h, int d) {
  return int64_t(b) * l.stride[0] + int64_t(s) * l.stride[1] + int64_t(h) * l.stride[2] + d;
}

// An integer in [lo, hi] drawn log-uniformly (the random-shape tests: small and large sizes
// alike).
inline int log_uniform(std::mt19937_64& rng, int lo, int hi) {
  std::uniform_real_distribution<double> u(std::log(double(lo)), std::log(double(hi) + 1));
  return std::min(hi, std::max(lo, static_cast<int>(std::exp(u(rng)))));
}

// N(0, sigma) rounded to bf16, written at every element of the layout; the padding between
// rows gets a different random pattern, so a kernel reading padding is visible too.
inline std::vector<uint16_t> random_tensor(const Layout& l, int batch, int seq, int heads,
                                           int head_dim, std::mt19937_64& rng, double sigma) {
  std::vector<uint16_t> t(static_cast<std::size_t>(l.elems));
  std::uniform_int_distribution<int> junk(0, 0xFFFF);
  for (auto& x : t) {  // junk finite values in the gaps (exponent not all ones)
    uint16_t v = static_cast<uint16_t>(junk(rng));
    if ((v & 0x7F80) == 0x7F80) v &= 0xBFFF;
    x = v;
  }
  std::normal_distribution<double> nd(0.0, sigma);
  for (int b = 0; b < batch; ++b)
    for (int s = 0; s < seq; ++s)
      for (int h = 0; h < heads; ++h) {
        uint16_t* row = &t[static_cast<std::size_t>(elem_index(l, b, s, h, 0))];
        for (int d = 0; d < head_dim; ++d) row[d] = ptxfmha::float_to_bf16(static_cast<float>(nd(rng)));
      }
  return t;
}

// ---- forward problems ---------------------------------------------------------------------
struct FwdProblem {
  int batch = 1, seqlen_q = 1, seqlen_k = 1, heads_q = 1, heads_kv = 1, head_dim = 64;
  bool causal = false;
  float softmax_scale = 0;  // 0: 1/sqrt(head_dim)
  bool with_lse = true;
  Layout q, k, v, o;
  // Kernel table row to run (ptxfmha::fwd_with_row); nullptr: the one ptxfmha_fwd selects.
  const ptxfmha::KernelInfo* row = nullptr;

  float scale() const {
    return softmax_scale > 0 ? softmax_scale : static_cast<float>(1.0 / std::sqrt(double(head_dim)));
  }
  int64_t lse_elems() const { return int64_t(batch) * heads_q * seqlen_q; }
  int64_t o_dense_elems() const { return int64_t(batch) * seqlen_q * heads_q * head_dim; }
};

// Dense BSHD layouts for every tensor.
inline FwdProblem fwd_problem(int batch, int seqlen_q, int seqlen_k, int heads_q, int heads_kv,
                              int head_dim, bool causal) {
  FwdProblem p;
  p.batch = batch; p.seqlen_q = seqlen_q; p.seqlen_k = seqlen_k;
  p.heads_q = heads_q; p.heads_kv = heads_kv; p.head_dim = head_dim; p.causal = causal;
  p.q = make_layout(batch, seqlen_q, heads_q, head_dim);
  p.k = make_layout(batch, seqlen_k, heads_kv, head_dim);
  p.v = make_layout(batch, seqlen_k, heads_kv, head_dim);
  p.o = make_layout(batch, seqlen_q, heads_q, head_dim);
  return p;
}

inline std::string describe(const FwdProblem& p) {
  std::ostringstream s;
  s << "B=" << p.batch << " Sq=" << p.seqlen_q << " Sk=" << p.seqlen_k << " Hq=" << p.heads_q
    << " Hkv=" << p.heads_kv << " D=" << p.head_dim << " causal=" << int(p.causal)
    << " scale=" << p.scale() << (p.with_lse ? "" : " lse=none");
  auto st = [&s](const char* n, const Layout& l) {
    s << " " << n << "_strides=[" << l.stride[0] << "," << l.stride[1] << "," << l.stride[2] << "]";
  };
  st("q", p.q); st("k", p.k); st("v", p.v); st("o", p.o);
  return s.str();
}

struct FwdHostInputs {
  std::vector<uint16_t> q, k, v;
};

inline FwdHostInputs random_inputs(const FwdProblem& p, uint64_t seed, double q_sigma = 1.0,
                                   double k_sigma = 1.0, double v_sigma = 1.0) {
  std::mt19937_64 rng(seed);
  FwdHostInputs in;
  in.q = random_tensor(p.q, p.batch, p.seqlen_q, p.heads_q, p.head_dim, rng, q_sigma);
  in.k = random_tensor(p.k, p.batch, p.seqlen_k, p.heads_kv, p.head_dim, rng, k_sigma);
  in.v = random_tensor(p.v, p.batch, p.seqlen_k, p.heads_kv, p.head_dim, rng, v_sigma);
  return in;
}

struct FwdOutputs {
  std::vector<uint16_t> o;  // raw O buffer (p.o.elems), padding included
  std::vector<float> lse;   // [batch, heads_q, seqlen_q], empty when !with_lse
  bool operator==(const FwdOutputs& b) const {
    return o.size() == b.o.size() && lse.size() == b.lse.size() &&
           std::memcmp(o.data(), b.o.data(), o.size() * sizeof(uint16_t)) == 0 &&
           std::memcmp(lse.data(), b.lse.data(), lse.size() * sizeof(float)) == 0;
  }
};

// Device side of one forward case: inputs uploaded once, outputs poisoned before every run.
class FwdDeviceCase {
 public:
  FwdDeviceCase(const FwdProblem& p, const FwdHostInputs& in) : p_(p) {
    q_.alloc(p.q.elems * 2); k_.alloc(p.k.elems * 2); v_.alloc(p.v.elems * 2);
    o_.alloc(p.o.elems * 2); lse_.alloc(std::max<int64_t>(p.lse_elems(), 1) * 4);
    q_.upload(in.q); k_.upload(in.k); v_.upload(in.v);
  }

  // The public parameter block for this case (the caller may break it on purpose).
  ptxfmha_fwd_params params(CUstream stream = nullptr) const {
    ptxfmha_fwd_params a;
    std::memset(&a, 0, sizeof a);
    a.q = q_.get(); a.k = k_.get(); a.v = v_.get(); a.o = o_.get();
    a.lse = p_.with_lse ? reinterpret_cast<float*>(lse_.get()) : nullptr;
    a.q_batch_stride = p_.q.stride[0]; a.q_seq_stride = p_.q.stride[1]; a.q_head_stride = p_.q.stride[2];
    a.k_batch_stride = p_.k.stride[0]; a.k_seq_stride = p_.k.stride[1]; a.k_head_stride = p_.k.stride[2];
    a.v_batch_stride = p_.v.stride[0]; a.v_seq_stride = p_.v.stride[1]; a.v_head_stride = p_.v.stride[2];
    a.o_batch_stride = p_.o.stride[0]; a.o_seq_stride = p_.o.stride[1]; a.o_head_stride = p_.o.stride[2];
    a.batch = p_.batch; a.seqlen_q = p_.seqlen_q; a.seqlen_k = p_.seqlen_k;
    a.heads_q = p_.heads_q; a.heads_kv = p_.heads_kv; a.head_dim = p_.head_dim;
    a.softmax_scale = p_.scale();
    a.causal = p_.causal ? 1 : 0;
    a.stream = stream;
    return a;
  }

  void poison(CUstream s = nullptr) {
    o_.fill16(kPoisonBf16, static_cast<std::size_t>(p_.o.elems), s);
    lse_.fill32(kPoisonF32, static_cast<std::size_t>(std::max<int64_t>(p_.lse_elems(), 1)), s);
  }
  // Copies the outputs back (after the stream's work is done).
  void download(FwdOutputs* out) const {
    o_.download(out->o, static_cast<std::size_t>(p_.o.elems));
    if (p_.with_lse) lse_.download(out->lse, static_cast<std::size_t>(p_.lse_elems()));
    else out->lse.clear();
  }
  // Poison, launch on `stream`, no synchronisation. Returns the library's status.
  ptxfmha_status launch(CUstream stream = nullptr) {
    poison(stream);
    ptxfmha_fwd_params a = params(stream);
    return p_.row != nullptr ? ptxfmha::fwd_with_row(&a, p_.row) : ptxfmha_fwd(&a);
  }
  // Poison, launch, synchronise, download. REQUIREs success.
  void run(FwdOutputs* out, CUstream stream = nullptr) {
    ptxfmha_status st = launch(stream);
    REQUIRE_MESSAGE(st == PTXFMHA_OK, "ptxfmha_fwd: " << str(ptxfmha_status_string(st)) << ": "
                                                      << str(ptxfmha_last_error()) << " [" << describe(p_) << "]");
    PTXFMHA_CU_CHECK(cu().cuStreamSynchronize(stream));
    download(out);
  }

  const FwdProblem& problem() const { return p_; }
  DeviceBuffer& o_buffer() { return o_; }
  DeviceBuffer& lse_buffer() { return lse_; }
  DeviceBuffer& q_buffer() { return q_; }

 private:
  FwdProblem p_;
  DeviceBuffer q_, k_, v_, o_, lse_;
};

// ---- float64 reference ----------------------------------------------------------------------
struct FwdReference {
  std::vector<double> o;    // dense [batch, seqlen_q, heads_q, head_dim]
  std::vector<double> lse;  // [batch, heads_q, seqlen_q], -inf for rows that see no key
};

// ptxfmha::reference_fwd, spread over all cores in tasks of one (batch, query head, block of
// query rows) each, so every call is single-threaded inside (one head) and long sequences with
// few heads still use every core. A block of rows [i0, i1) is its own problem: same keys for
// non-causal; for bottom-right causal only keys < i1 + Sk - Sq are visible to it, so seqlen_k
// becomes that and the diagonal lines up again (row i' of the block sees j <= i0 + i' + Sk - Sq).
// Each call widens its head's K and V to float64 (16 bytes per element), so the number of
// concurrent tasks is capped to keep that under about 4 GiB.
inline FwdReference reference(const FwdProblem& p, const FwdHostInputs& in) {
  FwdReference r;
  const std::size_t D = static_cast<std::size_t>(p.head_dim);
  r.o.assign(static_cast<std::size_t>(p.o_dense_elems()), 0.0);
  r.lse.assign(static_cast<std::size_t>(p.lse_elems()), -std::numeric_limits<double>::infinity());
  auto shape_for = [&](int batch, int heads_q, int heads_kv, int seqlen_q, int seqlen_k) {
    ptxfmha::RefShape s;
    s.batch = batch; s.seqlen_q = seqlen_q; s.seqlen_k = seqlen_k;
    s.heads_q = heads_q; s.heads_kv = heads_kv; s.head_dim = p.head_dim;
    s.causal = p.causal; s.softmax_scale = static_cast<double>(p.scale());
    for (int i = 0; i < 3; ++i) {
      s.q_stride[i] = p.q.stride[i]; s.k_stride[i] = p.k.stride[i]; s.v_stride[i] = p.v.stride[i];
    }
    return s;
  };
  const double work = double(p.batch) * p.heads_q * p.seqlen_q * double(p.seqlen_k) * p.head_dim;
  if (work < 4e6) {  // small: one call, one thread
    ptxfmha::RefShape s = shape_for(p.batch, p.heads_q, p.heads_kv, p.seqlen_q, p.seqlen_k);
    ptxfmha::reference_fwd(s, in.q.data(), in.k.data(), in.v.data(), r.o, r.lse);
    return r;
  }
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const int pairs = p.batch * p.heads_q;
  const int blocks = std::max(1, std::min(p.seqlen_q, int((2 * hw + pairs - 1) / pairs)));
  const int rows_per_block = (p.seqlen_q + blocks - 1) / blocks;
  struct Task { int b, h, i0, i1; };
  std::vector<Task> tasks;
  for (int b = 0; b < p.batch; ++b)
    for (int h = 0; h < p.heads_q; ++h)
      for (int i0 = 0; i0 < p.seqlen_q; i0 += rows_per_block)
        tasks.push_back({b, h, i0, std::min(p.seqlen_q, i0 + rows_per_block)});
  const double widened_bytes = 16.0 * p.seqlen_k * p.head_dim;
  const std::size_t nthreads = std::max<std::size_t>(
      1, std::min<std::size_t>({std::size_t(hw), tasks.size(), std::size_t(4.0 * (1ull << 30) / widened_bytes)}));
  const int g = p.heads_q / p.heads_kv;
  std::atomic<std::size_t> next{0};
  auto body = [&] {
    std::vector<double> o, l;
    for (std::size_t t = next.fetch_add(1); t < tasks.size(); t = next.fetch_add(1)) {
      const Task& tk = tasks[t];
      const int rows = tk.i1 - tk.i0;
      int sk = p.seqlen_k;
      if (p.causal) sk = std::max(0, std::min(p.seqlen_k, tk.i1 + p.seqlen_k - p.seqlen_q));
      ptxfmha::RefShape s = shape_for(1, 1, 1, rows, sk);
      const uint16_t* q = in.q.data() + elem_index(p.q, tk.b, tk.i0, tk.h, 0);
      const uint16_t* k = in.k.data() + elem_index(p.k, tk.b, 0, tk.h / g, 0);
      const uint16_t* v = in.v.data() + elem_index(p.v, tk.b, 0, tk.h / g, 0);
      ptxfmha::reference_fwd(s, q, k, v, o, l);  // one (batch, head) pair: single-threaded
      for (int i = 0; i < rows; ++i) {
        const std::size_t dst = ((std::size_t(tk.b) * p.seqlen_q + tk.i0 + i) * p.heads_q + tk.h) * D;
        std::copy(o.begin() + std::size_t(i) * D, o.begin() + std::size_t(i + 1) * D, r.o.begin() + dst);
        r.lse[(std::size_t(tk.b) * p.heads_q + tk.h) * p.seqlen_q + tk.i0 + i] = l[std::size_t(i)];
      }
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t i = 1; i < nthreads; ++i) pool.emplace_back(body);
  body();
  for (auto& t : pool) t.join();
  return r;
}

// ---- error figures ---------------------------------------------------------------------------
struct Tolerance {  // bf16 inputs and output, fp32 accumulation
  double rel_l2 = 2e-2;
  double cosine = 0.9999;
  double elem_abs = 2e-2, elem_rel = 2e-2;  // per element: |got-ref| <= abs + rel*|ref|
  double lse_abs = 1e-3, lse_rel = 2e-5;    // per row:     |got-ref| <= abs + rel*|ref|
  // + lse_mag * RefAttnResult::logit_mag where the reference fills it (the e4m3 cache: the
  // error bound ptxfmha.h states for its scores, kv_dtype)
  double lse_mag = 0x1p-11;
};

struct FwdFigures {
  ptxfmha::ErrorStats o;          // over the dense O
  long long unwritten = 0;        // O elements still holding the poison pattern
  long long o_nonfinite = 0;      // NaN/Inf in O (poison included)
  long long pad_clobbered = 0;    // O buffer elements outside the tensor that changed
  long long lse_nonfinite = 0;    // LSE NaN or +-inf where the reference is finite
  long long lse_unwritten = 0;    // LSE still holding the poison pattern
  long long lse_inf_mismatch = 0; // reference -inf (row sees no key) but LSE is not -inf
  long long empty_row_nonzero = 0;// O of a row that sees no key is not exactly 0
  double lse_max_abs = 0;
  long long lse_first_bad = -1;   // first row index over tolerance
  long long o_first_bad = -1;     // first dense O index over tolerance (== o.first_bad)
};

inline FwdFigures evaluate(const FwdProblem& p, const FwdOutputs& got, const FwdReference& ref,
                           const Tolerance& tol = Tolerance()) {
  FwdFigures f;
  const int D = p.head_dim;
  std::vector<double> dense(static_cast<std::size_t>(p.o_dense_elems()));
  std::vector<char> inside(static_cast<std::size_t>(p.o.elems), 0);
  std::size_t n = 0;
  for (int b = 0; b < p.batch; ++b)
    for (int s = 0; s < p.seqlen_q; ++s)
      for (int h = 0; h < p.heads_q; ++h) {
        const int64_t base = elem_index(p.o, b, s, h, 0);
        const bool empty_row = std::isinf(ref.lse[(std::size_t(b) * p.heads_q + h) * p.seqlen_q + s]);
        for (int d = 0; d < D; ++d, ++n) {
          const uint16_t bits = got.o[static_cast<std::size_t>(base + d)];
          inside[static_cast<std::size_t>(base + d)] = 1;
          const double x = ptxfmha::bf16_to_float(bits);
          if (bits == kPoisonBf16) ++f.unwritten;
          if (!std::isfinite(x)) ++f.o_nonfinite;
          if (empty_row && x != 0.0) ++f.empty_row_nonzero;
          dense[n] = x;
        }
      }
  for (std::size_t i = 0; i < inside.size(); ++i)
    if (!inside[i] && got.o[i] != kPoisonBf16) ++f.pad_clobbered;
  f.o = ptxfmha::compare(dense.data(), ref.o.data(), dense.size(), tol.elem_abs, tol.elem_rel);
  f.o_first_bad = f.o.first_bad;
  if (p.with_lse) {
    for (std::size_t i = 0; i < ref.lse.size(); ++i) {
      const double g = got.lse[i], r = ref.lse[i];
      uint32_t bits;
      std::memcpy(&bits, &got.lse[i], 4);
      if (bits == kPoisonF32) ++f.lse_unwritten;
      if (std::isinf(r)) {
        if (!(std::isinf(g) && g < 0)) {
          ++f.lse_inf_mismatch;
          if (f.lse_first_bad < 0) f.lse_first_bad = static_cast<long long>(i);
        }
        continue;
      }
      if (!std::isfinite(g)) {
        ++f.lse_nonfinite;
        if (f.lse_first_bad < 0) f.lse_first_bad = static_cast<long long>(i);
        continue;
      }
      const double e = std::fabs(g - r);
      f.lse_max_abs = std::max(f.lse_max_abs, e);
      if (e > tol.lse_abs + tol.lse_rel * std::fabs(r) && f.lse_first_bad < 0)
        f.lse_first_bad = static_cast<long long>(i);
    }
  }
  return f;
}

inline std::string describe(const FwdFigures& f) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "max_abs=%.3e rel_l2=%.3e cos=%.7f lse_max_abs=%.3e", f.o.max_abs,
                f.o.rel_l2, f.o.cosine, f.lse_max_abs);
  std::string s = buf;
  if (f.unwritten) s += " unwritten=" + std::to_string(f.unwritten);
  if (f.o_nonfinite) s += " o_nonfinite=" + std::to_string(f.o_nonfinite);
  if (f.pad_clobbered) s += " pad_clobbered=" + std::to_string(f.pad_clobbered);
  if (f.lse_nonfinite) s += " lse_nonfinite=" + std::to_string(f.lse_nonfinite);
  if (f.lse_unwritten) s += " lse_unwritten=" + std::to_string(f.lse_unwritten);
  if (f.lse_inf_mismatch) s += " lse_inf_mismatch=" + std::to_string(f.lse_inf_mismatch);
  if (f.empty_row_nonzero) s += " empty_row_nonzero=" + std::to_string(f.empty_row_nonzero);
  return s;
}

// "(b, s, h, d)" of a dense O index / "(b, h, s)" of an LSE index.
inline std::string o_position(const FwdProblem& p, long long i) {
  if (i < 0) return "-";
  const long long d = i % p.head_dim, r = i / p.head_dim;
  const long long h = r % p.heads_q, r2 = r / p.heads_q;
  const long long s = r2 % p.seqlen_q, b = r2 / p.seqlen_q;
  return "(b=" + std::to_string(b) + " s=" + std::to_string(s) + " h=" + std::to_string(h) +
         " d=" + std::to_string(d) + ")";
}
inline std::string lse_position(const FwdProblem& p, long long i) {
  if (i < 0) return "-";
  const long long s = i % p.seqlen_q, r = i / p.seqlen_q;
  return "(b=" + std::to_string(r / p.heads_q) + " h=" + std::to_string(r % p.heads_q) +
         " s=" + std::to_string(s) + ")";
}

// True when every figure is within bounds; otherwise false and *why says which failed first,
// with the first bad element's position and values.
inline bool within_bounds(const FwdProblem& p, const FwdFigures& f, const FwdOutputs& got,
                          const FwdReference& ref, const Tolerance& tol, std::string* why) {
  std::ostringstream s;
  if (f.unwritten) s << f.unwritten << " O elements never written; ";
  if (f.o_nonfinite) s << f.o_nonfinite << " O elements NaN/Inf; ";
  if (f.pad_clobbered) s << f.pad_clobbered << " O padding elements overwritten; ";
  if (f.empty_row_nonzero) s << f.empty_row_nonzero << " O elements of rows that see no key are not 0; ";
  if (!(f.o.rel_l2 <= tol.rel_l2)) s << "rel_l2 " << f.o.rel_l2 << " > " << tol.rel_l2 << "; ";
  if (!(f.o.cosine >= tol.cosine)) s << "cosine " << f.o.cosine << " < " << tol.cosine << "; ";
  if (f.o.first_bad >= 0) {
    const long long i = f.o.first_bad;
    const long long d = i % p.head_dim, r = i / p.head_dim;
    const long long h = r % p.heads_q, r2 = r / p.heads_q;
    const int64_t raw = elem_index(p.o, int(r2 / p.seqlen_q), int(r2 % p.seqlen_q), int(h), int(d));
    s << "first O element over |err| <= " << tol.elem_abs << " + " << tol.elem_rel << "*|ref|: "
      << o_position(p, i) << " got " << ptxfmha::bf16_to_float(got.o[static_cast<std::size_t>(raw)])
      << " ref " << ref.o[static_cast<std::size_t>(i)] << "; ";
  }
  if (p.with_lse) {
    if (f.lse_unwritten) s << f.lse_unwritten << " LSE rows never written; ";
    if (f.lse_nonfinite) s << f.lse_nonfinite << " LSE rows NaN/Inf where the reference is finite; ";
    if (f.lse_inf_mismatch) s << f.lse_inf_mismatch << " LSE rows that see no key are not -inf; ";
    if (f.lse_first_bad >= 0) {
      const std::size_t i = static_cast<std::size_t>(f.lse_first_bad);
      s << "first LSE row over |err| <= " << tol.lse_abs << " + " << tol.lse_rel << "*|ref|: "
        << lse_position(p, f.lse_first_bad) << " got " << got.lse[i] << " ref " << ref.lse[i] << "; ";
    }
  }
  *why = s.str();
  return why->empty();
}

// ---- worst figures per kernel, printed by main.cpp after the run -------------------------------
struct WorstFigures {
  long long cases = 0;
  double max_abs = 0, rel_l2 = 0, min_cosine = 1, lse_max_abs = 0;
  double lse_mag_ratio = -1;  // the largest LSE |err| / logit_mag (-1: no e4m3 reference)
  std::string worst_rel_case;
};
struct WorstRegistry {
  std::mutex mutex;
  std::map<std::string, WorstFigures> by_kernel;  // key: "<test>: <kernel>"
};
inline WorstRegistry& worst_registry() {
  static WorstRegistry r;
  return r;
}
// Folds one case's figures into the worst figures under key (what: the case, kept where its
// rel_l2 is the worst so far).
// lse_mag_ratio: the case's largest LSE |err| / logit_mag (-1: no e4m3 reference).
inline void record_worst(const std::string& key, const std::string& what, const ptxfmha::ErrorStats& o,
                         double lse_max_abs, double lse_mag_ratio = -1) {
  WorstRegistry& r = worst_registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  WorstFigures& w = r.by_kernel[key];
  ++w.cases;
  auto worse = [](double a, double b) { return std::isnan(a) || a > b; };
  if (worse(o.max_abs, w.max_abs)) w.max_abs = o.max_abs;
  if (worse(o.rel_l2, w.rel_l2)) { w.rel_l2 = o.rel_l2; w.worst_rel_case = what; }
  if (std::isnan(o.cosine) || o.cosine < w.min_cosine) w.min_cosine = o.cosine;
  if (worse(lse_max_abs, w.lse_max_abs)) w.lse_max_abs = lse_max_abs;
  if (lse_mag_ratio > w.lse_mag_ratio) w.lse_mag_ratio = lse_mag_ratio;
}
inline void record(const std::string& key, const FwdProblem& p, const FwdFigures& f) {
  record_worst(key, describe(p), f.o, f.lse_max_abs);
}
inline void print_worst_summary(FILE* out) {
  WorstRegistry& r = worst_registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (r.by_kernel.empty()) return;
  std::fprintf(out, "[ptxfmha-tests] worst error figures against the float64 reference:\n");
  for (const auto& kv : r.by_kernel) {
    const WorstFigures& w = kv.second;
    std::fprintf(out,
                 "[ptxfmha-tests]   %-46s cases=%-5lld max_abs=%.3e rel_l2=%.3e min_cos=%.7f "
                 "lse_max_abs=%.3e%s  (worst rel_l2: %s)\n",
                 kv.first.c_str(), w.cases, w.max_abs, w.rel_l2, w.min_cosine, w.lse_max_abs,
                 w.lse_mag_ratio < 0 ? "" : (" lse_err/mag=2^" + std::to_string(std::log2(w.lse_mag_ratio))).c_str(),
                 w.worst_rel_case.c_str());
  }
}

// Runs one case end to end: poison, launch, compare with the reference, launch again and
// compare bitwise. Prints one MESSAGE line with the figures, CHECKs the bounds, records the
// worst figures under `key`. `context` (e.g. the seed) is printed with every failure.
// Returns true when everything held.
inline bool run_and_check(const std::string& key, const FwdProblem& p, const FwdHostInputs& in,
                          const FwdReference& ref, const std::string& context = "",
                          const Tolerance& tol = Tolerance(), bool quiet = false) {
  FwdDeviceCase dc(p, in);
  FwdOutputs first, second;
  dc.run(&first);
  dc.run(&second);
  const FwdFigures f = evaluate(p, first, ref, tol);
  record(key, p, f);
  std::string why;
  const bool ok_bounds = within_bounds(p, f, first, ref, tol, &why);
  const bool deterministic = first == second;
  if (!quiet || !ok_bounds || !deterministic)
    MESSAGE(key << " " << describe(p) << ": " << describe(f)
                << std::string(deterministic ? "" : " NOT bitwise deterministic"));
  CHECK_MESSAGE(ok_bounds, key << " " << context << " " << describe(p) << ": " << why);
  CHECK_MESSAGE(deterministic, key << " " << context << " " << describe(p)
                                   << ": two runs on the same inputs differ bitwise");
  return ok_bounds && deterministic;
}

// Sets the decode cluster-merge policy (the environment PTXFMHA_DECODE_CLUSTER: "0" the
// workspace path, "1" the cluster merge whenever the split count allows; decode.h
// DecodeClusterPolicy) for a scope, restoring the previous value.
class ScopedDecodeCluster {
 public:
  explicit ScopedDecodeCluster(const char* value) {
    const char* old = std::getenv(kName);
    had_ = old != nullptr;
    if (had_) old_ = old;
    ::setenv(kName, value, 1);
  }
  ~ScopedDecodeCluster() {
    if (had_) ::setenv(kName, old_.c_str(), 1);
    else ::unsetenv(kName);
  }
  ScopedDecodeCluster(const ScopedDecodeCluster&) = delete;
  ScopedDecodeCluster& operator=(const ScopedDecodeCluster&) = delete;

 private:
  static constexpr const char* kName = "PTXFMHA_DECODE_CLUSTER";
  bool had_ = false;
  std::string old_;
};

}  // namespace ptxfmha_test
