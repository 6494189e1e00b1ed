// GPU tests of the host library: checks that need a device (context and arch, device
// pointers, cubin loading: missing / wrong arch / corrupt / wrong symbol / wrong .param block,
// the module cache) and one end-to-end forward call against the float64 reference.
// Every test here is SKIPPED without a CUDA driver and a device with ptx-fmha kernels: they
// sit in the "gpu"/"gpu-fwd" suites that tests/main.cpp excludes on such machines, and carry
// doctest skip decorators (evaluated at start-up) for what the suites do not cover: ptxas for
// the cubin-file tests, the kernel's cubin in the cubin directory for the kernel tests.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>
#include <random>
#include <string>
#include <vector>

#include "driver.h"
#include "gpu_util.h"  // ptxas_path
#include "kernel_table.h"
#include "ptxfmha/ptxfmha.h"
#include "ptxfmha/reference.h"
#include "runtime.h"

namespace {

struct Gpu {
  bool ok = false;
  std::string why;
  ptxfmha::DeviceInfo dev;
};

const Gpu& gpu() {
  static const Gpu g = [] {
    Gpu r;
    ptxfmha_status st = ptxfmha::acquire_device(&r.dev);
    r.ok = st == PTXFMHA_OK;
    if (!r.ok) r.why = ptxfmha::last_error_message();
    return r;
  }();
  return g;
}
bool no_gpu() { return !gpu().ok; }

using ptxfmha_test::ptxas_path;
bool no_gpu_or_ptxas() { return no_gpu() || ::access(ptxas_path().c_str(), X_OK) != 0; }

const ptxfmha::KernelInfo* fwd_row(int head_dim) {
  return gpu().ok ? ptxfmha::find_kernel(gpu().dev.sm, ptxfmha::KernelKind::Fwd, head_dim) : nullptr;
}
bool have_cubin(int head_dim) {
  const ptxfmha::KernelInfo* r = fwd_row(head_dim);
  if (r == nullptr) return false;
  return ::access(ptxfmha::cubin_path(ptxfmha::cubin_dir(), r->arch, r->name).c_str(), R_OK) == 0;
}
bool no_fwd_kernel_64() { return no_gpu_or_ptxas() || fwd_row(64) == nullptr; }
bool no_cubins() { return no_gpu() || !have_cubin(64) || !have_cubin(128); }

void cu_ok(CUresult r, const char* what) {
  if (r != CUDA_SUCCESS) FAIL(ptxfmha::cu_error_message(r, what));
}

struct DevBuf {
  CUdeviceptr p = 0;
  size_t bytes = 0;
  explicit DevBuf(size_t n) : bytes(n) { cu_ok(ptxfmha::drv().cuMemAlloc(&p, n), "cuMemAlloc"); }
  ~DevBuf() {
    if (p) ptxfmha::drv().cuMemFree(p);
  }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  void* ptr() const { return reinterpret_cast<void*>(p); }
  void poison() { cu_ok(ptxfmha::drv().cuMemsetD8(p, 0xA5, bytes), "cuMemsetD8"); }
  bool poisoned() const {
    std::vector<uint8_t> h(bytes);
    cu_ok(ptxfmha::drv().cuMemcpyDtoH(h.data(), p, bytes), "cuMemcpyDtoH");
    for (uint8_t b : h)
      if (b != 0xA5) return false;
    return true;
  }
};

// Dense BSHD device tensors for one forward call.
struct Fwd {
  int B, SQ, SK, HQ, HKV, D;
  DevBuf q, k, v, o, lse;
  Fwd(int b, int sq, int sk, int hq, int hkv, int d)
      : B(b), SQ(sq), SK(sk), HQ(hq), HKV(hkv), D(d),
        q(size_t(b) * sq * hq * d * 2), k(size_t(b) * sk * hkv * d * 2), v(size_t(b) * sk * hkv * d * 2),
        o(size_t(b) * sq * hq * d * 2), lse(size_t(b) * hq * sq * 4) {
    o.poison();
    lse.poison();
  }
  ptxfmha_fwd_params params(bool causal) const {
    ptxfmha_fwd_params p;
    std::memset(&p, 0, sizeof p);
    p.q = q.ptr();
    p.k = k.ptr();
    p.v = v.ptr();
    p.o = o.ptr();
    p.lse = static_cast<float*>(lse.ptr());
    p.q_head_stride = D, p.q_seq_stride = int64_t(HQ) * D, p.q_batch_stride = int64_t(SQ) * HQ * D;
    p.k_head_stride = D, p.k_seq_stride = int64_t(HKV) * D, p.k_batch_stride = int64_t(SK) * HKV * D;
    p.v_head_stride = D, p.v_seq_stride = int64_t(HKV) * D, p.v_batch_stride = int64_t(SK) * HKV * D;
    p.o_head_stride = D, p.o_seq_stride = int64_t(HQ) * D, p.o_batch_stride = int64_t(SQ) * HQ * D;
    p.batch = B, p.seqlen_q = SQ, p.seqlen_k = SK, p.heads_q = HQ, p.heads_kv = HKV, p.head_dim = D;
    p.softmax_scale = 1.0f / std::sqrt(float(D));
    p.causal = causal ? 1 : 0;
    return p;
  }
  bool untouched() const { return o.poisoned() && lse.poisoned(); }
};

// A temp cubin directory; assembles tiny stand-in kernels into <dir>/<arch>/<file>.
struct TempCubinDir {
  std::string dir;
  TempCubinDir() {
    char t[] = "/tmp/ptxfmha_gpu_test_XXXXXX";
    REQUIRE(::mkdtemp(t) != nullptr);
    dir = t;
    ptxfmha_set_cubin_dir(dir.c_str());
  }
  ~TempCubinDir() {
    ptxfmha_set_cubin_dir(nullptr);
    std::string cmd = "rm -rf '" + dir + "'";
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", dir.c_str());
  }
  std::string file(const std::string& arch, const std::string& name) const {
    return dir + "/" + arch + "/" + name + ".cubin";
  }
  void assemble(const std::string& target, const std::string& entry, const std::string& param_decl,
                const std::string& directives, const std::string& out) {
    std::string cmd = "mkdir -p \"$(dirname '" + out + "')\"";
    REQUIRE(std::system(cmd.c_str()) == 0);
    const std::string ptx = out + ".ptx";
    {
      std::ofstream f(ptx);
      f << ".version 8.8\n.target " << target << "\n.address_size 64\n.visible .entry " << entry
        << "(" << param_decl << ")" << directives << "\n{\n  ret;\n}\n";
    }
    cmd = ptxas_path() + " -arch=" + target + " '" + ptx + "' -o '" + out + "'";
    REQUIRE(std::system(cmd.c_str()) == 0);
  }
};

const char* kParams640 = ".param .align 64 .b8 params[640]";

std::string ptxas_target(const char* arch) { return std::string(arch) == "sm90a" ? "sm_90a" : "sm_100a"; }
std::string other_target(const char* arch) { return std::string(arch) == "sm90a" ? "sm_100a" : "sm_90a"; }

}  // namespace

TEST_CASE("gpu: context and architecture" * doctest::test_suite("gpu")) {
  // The suite is excluded without a device (tests/main.cpp); on a machine that runs it,
  // what this test needs must be there: checked here, not at static initialisation.
  REQUIRE_MESSAGE(!no_gpu(), "no_gpu");
  const ptxfmha::DeviceInfo& d = gpu().dev;
  MESSAGE("device cc " << d.cc_major << "." << d.cc_minor << ", arch " << std::string(d.arch) << ", " << d.num_sms
                       << " SMs, opt-in smem " << d.max_smem_optin_bytes << " B");
  CHECK(d.arch == std::string(ptxfmha::arch_for_cc(d.cc_major, d.cc_minor)));
  CUcontext cur = nullptr;
  cu_ok(ptxfmha::drv().cuCtxGetCurrent(&cur), "cuCtxGetCurrent");
  CHECK(cur == d.ctx);
  ptxfmha::DeviceInfo again;
  REQUIRE(ptxfmha::acquire_device(&again) == PTXFMHA_OK);
  CHECK(again.ctx_id == d.ctx_id);
  // A new thread has no current context: it gets the same primary context.
  ptxfmha::DeviceInfo other;
  ptxfmha_status st = PTXFMHA_ERR_CUDA;
  std::thread t([&] { st = ptxfmha::acquire_device(&other); });
  t.join();
  CHECK(st == PTXFMHA_OK);
  CHECK(other.ctx == d.ctx);
}

TEST_CASE("gpu: unsupported head_dim names the device arch" * doctest::test_suite("gpu")) {
  // The suite is excluded without a device (tests/main.cpp); on a machine that runs it,
  // what this test needs must be there: checked here, not at static initialisation.
  REQUIRE_MESSAGE(!no_gpu(), "no_gpu");
  int hd = 0;
  for (int c : {96, 80, 40, 160, 512})
    if (fwd_row(c) == nullptr) {
      hd = c;
      break;
    }
  REQUIRE(hd != 0);
  Fwd f(1, 8, 8, 1, 1, hd);
  ptxfmha_fwd_params p = f.params(false);
  CHECK(ptxfmha_fwd(&p) == PTXFMHA_ERR_UNSUPPORTED_HEAD_DIM);
  const std::string msg = ptxfmha_last_error();
  CHECK(msg.find("head_dim = " + std::to_string(hd)) != std::string::npos);
  CHECK(msg.find(gpu().dev.arch) != std::string::npos);
  CHECK(f.untouched());
}

TEST_CASE("gpu: host pointers and allocations smaller than the tensor are rejected" *
          doctest::test_suite("gpu-fwd")) {
  // The suite is excluded without a device (tests/main.cpp); on a machine that runs it,
  // what this test needs must be there: checked here, not at static initialisation.
  REQUIRE_MESSAGE(!no_fwd_kernel_64(), "no_fwd_kernel_64");
  Fwd f(1, 64, 64, 2, 2, 64);
  SUBCASE("q in host memory") {
    std::vector<uint8_t> host(size_t(64) * 2 * 64 * 2 + 64);
    ptxfmha_fwd_params p = f.params(false);
    uintptr_t a = (reinterpret_cast<uintptr_t>(host.data()) + 15) / 16 * 16;
    p.q = reinterpret_cast<const void*>(a);
    CHECK(ptxfmha_fwd(&p) == PTXFMHA_ERR_INVALID_ARGUMENT);
    CHECK(std::string(ptxfmha_last_error()).find("q = ") != std::string::npos);
  }
  SUBCASE("k allocation far smaller than seqlen_k says") {
    DevBuf bigv(size_t(1) << 28);  // v is large enough: k must be the one reported
    DevBuf small(256);             // allocated after v, so k's claimed end is not inside v
    ptxfmha_fwd_params p = f.params(false);
    p.seqlen_k = 1 << 20;  // k needs 2^20 * 2 * 64 * 2 bytes = 256 MiB
    p.k = small.ptr();
    p.v = bigv.ptr();
    p.k_batch_stride = p.v_batch_stride = int64_t(1) << 27;
    CHECK(ptxfmha_fwd(&p) == PTXFMHA_ERR_INVALID_ARGUMENT);
    CHECK(std::string(ptxfmha_last_error()).find("k: ") != std::string::npos);
  }
  CHECK(f.untouched());
}

TEST_CASE("gpu: cubin problems are reported, nothing is launched" * doctest::test_suite("gpu-fwd")) {
  // The suite is excluded without a device (tests/main.cpp); on a machine that runs it,
  // what this test needs must be there: checked here, not at static initialisation.
  REQUIRE_MESSAGE(!no_fwd_kernel_64(), "no_fwd_kernel_64");
  const ptxfmha::DeviceInfo& d = gpu().dev;
  const ptxfmha::KernelInfo* row = fwd_row(64);
  REQUIRE(row != nullptr);
  Fwd f(1, 100, 100, 2, 1, 64);
  ptxfmha_fwd_params p = f.params(true);
  TempCubinDir tmp;
  const std::string path = tmp.file(d.arch, row->name);

  SUBCASE("missing cubin directory") {
    ptxfmha_set_cubin_dir((tmp.dir + "/does-not-exist").c_str());
    CHECK(ptxfmha_fwd(&p) == PTXFMHA_ERR_CUBIN_MISSING);
    std::string msg = ptxfmha_last_error();
    CHECK(msg.find(tmp.dir + "/does-not-exist/" + d.arch + "/" + row->name + ".cubin") != std::string::npos);
    CHECK(msg.find(d.arch) != std::string::npos);
  }
  SUBCASE("cubin of the other architecture") {
    tmp.assemble(other_target(d.arch), row->name, kParams640, "", path);
    CHECK(ptxfmha_fwd(&p) == PTXFMHA_ERR_CUBIN_WRONG_ARCH);
    std::string msg = ptxfmha_last_error();
    CHECK(msg.find(path) != std::string::npos);
    CHECK(msg.find(other_target(d.arch)) != std::string::npos);
  }
  SUBCASE("corrupt cubin") {
    std::string cmd = "mkdir -p '" + tmp.dir + "/" + d.arch + "' && head -c 4096 /dev/urandom > '" + path + "'";
    REQUIRE(std::system(cmd.c_str()) == 0);
    CHECK(ptxfmha_fwd(&p) == PTXFMHA_ERR_CUBIN_INVALID);
  }
  SUBCASE("ELF header fine, body truncated") {
    tmp.assemble(ptxas_target(d.arch), row->name, kParams640, "", path);
    std::string cmd = "truncate -s 200 '" + path + "'";
    REQUIRE(std::system(cmd.c_str()) == 0);
    CHECK(ptxfmha_fwd(&p) == PTXFMHA_ERR_CUBIN_INVALID);
    CHECK(std::string(ptxfmha_last_error()).find("outside the file") != std::string::npos);
  }
  SUBCASE("right arch, kernel symbol missing") {
    tmp.assemble(ptxas_target(d.arch), "some_other_kernel", kParams640, "", path);
    CHECK(ptxfmha_fwd(&p) == PTXFMHA_ERR_CUBIN_INVALID);
    CHECK(std::string(ptxfmha_last_error()).find(row->name) != std::string::npos);
  }
  SUBCASE("right symbol, .param block of another size") {
    tmp.assemble(ptxas_target(d.arch), row->name, ".param .align 64 .b8 params[320]", "", path);
    const ptxfmha_status st = ptxfmha_fwd(&p);
    if (ptxfmha::drv().cuFuncGetParamInfo != nullptr) {
      CHECK(st == PTXFMHA_ERR_CUBIN_INVALID);
      CHECK(std::string(ptxfmha_last_error()).find("parameter") != std::string::npos);
    } else {
      MESSAGE("driver has no cuFuncGetParamInfo: .param size not checkable");
    }
  }
  SUBCASE("right symbol, .maxntid below the row's threads") {
    tmp.assemble(ptxas_target(d.arch), row->name, kParams640, " .maxntid 32, 1, 1", path);
    CHECK(ptxfmha_fwd(&p) == PTXFMHA_ERR_CUBIN_INVALID);
    CHECK(std::string(ptxfmha_last_error()).find("threads") != std::string::npos);
  }
  CHECK(f.untouched());
}

// Separate from the test above: this one hands the driver a structurally sound ELF whose
// contents are garbage, so it tests how the driver copes, not only our checks.
TEST_CASE("gpu: a cubin with garbage contents inside valid ELF tables" * doctest::test_suite("gpu-fwd")) {
  // The suite is excluded without a device (tests/main.cpp); on a machine that runs it,
  // what this test needs must be there: checked here, not at static initialisation.
  REQUIRE_MESSAGE(!no_fwd_kernel_64(), "no_fwd_kernel_64");
  const ptxfmha::DeviceInfo& d = gpu().dev;
  const ptxfmha::KernelInfo* row = fwd_row(64);
  REQUIRE(row != nullptr);
  Fwd f(1, 100, 100, 2, 1, 64);
  ptxfmha_fwd_params p = f.params(true);
  TempCubinDir tmp;
  const std::string path = tmp.file(d.arch, row->name);
  {
    tmp.assemble(ptxas_target(d.arch), row->name, kParams640, "", path);
    // Overwrite everything after the ELF header with a repeating byte, keeping the header
    // tables' positions: the driver must refuse the image, not crash.
    std::ifstream in(path, std::ios::binary);
    std::vector<char> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    const uint64_t shoff = *reinterpret_cast<const uint64_t*>(&b[0x28]);
    for (size_t i = 64; i < b.size() && i < shoff; ++i) b[i] = char(0x5a);
    std::ofstream(path, std::ios::binary).write(b.data(), std::streamsize(b.size()));
    const ptxfmha_status st = ptxfmha_fwd(&p);
    MESSAGE(std::string(ptxfmha_last_error()));
    CHECK(st == PTXFMHA_ERR_CUBIN_INVALID);
  }
  CHECK(f.untouched());
}

TEST_CASE("gpu: the module cache loads a real cubin once per context and directory" *
          doctest::test_suite("gpu-fwd")) {
  // The suite is excluded without a device (tests/main.cpp); on a machine that runs it,
  // what this test needs must be there: checked here, not at static initialisation.
  REQUIRE_MESSAGE(!no_cubins(), "no_cubins");
  const ptxfmha::DeviceInfo& d = gpu().dev;
  const ptxfmha::KernelInfo* row = fwd_row(64);
  ptxfmha::LoadedKernel a, b;
  REQUIRE(ptxfmha::get_kernel(d, *row, &a) == PTXFMHA_OK);
  const size_t n = ptxfmha::module_cache_size();
  REQUIRE(ptxfmha::get_kernel(d, *row, &b) == PTXFMHA_OK);
  CHECK(a.function == b.function);
  CHECK(ptxfmha::module_cache_size() == n);
  int max_dyn = 0;
  cu_ok(ptxfmha::drv().cuFuncGetAttribute(&max_dyn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, a.function),
        "cuFuncGetAttribute");
  CHECK(max_dyn >= row->smem_bytes);
}

TEST_CASE("gpu: ptxfmha_fwd end to end against the float64 reference" * doctest::test_suite("gpu-fwd")) {
  // The suite is excluded without a device (tests/main.cpp); on a machine that runs it,
  // what this test needs must be there: checked here, not at static initialisation.
  REQUIRE_MESSAGE(!no_cubins(), "no_cubins");
  struct Shape {
    int b, sq, sk, hq, hkv, d;
    bool causal;
  } shapes[] = {{2, 130, 200, 4, 2, 64, false}, {2, 130, 200, 4, 2, 64, true},
                {1, 257, 129, 2, 1, 128, true}, {1, 1, 77, 3, 3, 128, false}};
  std::mt19937 rng(2024);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (const Shape& s : shapes) {
    CAPTURE(s.sq);
    CAPTURE(s.sk);
    CAPTURE(s.d);
    CAPTURE(s.causal);
    Fwd f(s.b, s.sq, s.sk, s.hq, s.hkv, s.d);
    std::vector<uint16_t> hq(f.q.bytes / 2), hk(f.k.bytes / 2), hv(f.v.bytes / 2);
    for (auto* vec : {&hq, &hk, &hv})
      for (auto& x : *vec) x = ptxfmha::float_to_bf16(dist(rng));
    const auto& dr = ptxfmha::drv();
    cu_ok(dr.cuMemcpyHtoD(f.q.p, hq.data(), f.q.bytes), "HtoD q");
    cu_ok(dr.cuMemcpyHtoD(f.k.p, hk.data(), f.k.bytes), "HtoD k");
    cu_ok(dr.cuMemcpyHtoD(f.v.p, hv.data(), f.v.bytes), "HtoD v");
    ptxfmha_fwd_params p = f.params(s.causal);
    REQUIRE_MESSAGE(ptxfmha_fwd(&p) == PTXFMHA_OK, std::string(ptxfmha_last_error()));
    cu_ok(dr.cuCtxSynchronize(), "kernel");
    std::vector<uint16_t> ho(f.o.bytes / 2);
    std::vector<float> hl(f.lse.bytes / 4);
    cu_ok(dr.cuMemcpyDtoH(ho.data(), f.o.p, f.o.bytes), "DtoH o");
    cu_ok(dr.cuMemcpyDtoH(hl.data(), f.lse.p, f.lse.bytes), "DtoH lse");
    ptxfmha::RefShape rs{};
    rs.batch = s.b, rs.seqlen_q = s.sq, rs.seqlen_k = s.sk, rs.heads_q = s.hq, rs.heads_kv = s.hkv;
    rs.head_dim = s.d, rs.causal = s.causal, rs.softmax_scale = p.softmax_scale;
    const int64_t qs[3] = {p.q_batch_stride, p.q_seq_stride, p.q_head_stride};
    const int64_t ks[3] = {p.k_batch_stride, p.k_seq_stride, p.k_head_stride};
    for (int i = 0; i < 3; ++i) rs.q_stride[i] = qs[i], rs.k_stride[i] = rs.v_stride[i] = ks[i];
    std::vector<double> ro, rl;
    ptxfmha::reference_fwd(rs, hq.data(), hk.data(), hv.data(), ro, rl);
    std::vector<double> go(ho.size()), gl(hl.size());
    for (size_t i = 0; i < ho.size(); ++i) go[i] = ptxfmha::bf16_to_float(ho[i]);
    for (size_t i = 0; i < hl.size(); ++i) gl[i] = hl[i];
    auto eo = ptxfmha::compare(go.data(), ro.data(), ro.size());
    auto el = ptxfmha::compare(gl.data(), rl.data(), rl.size(), 1e-3, 1e-3);
    MESSAGE("O: max_abs " << eo.max_abs << " rel_l2 " << eo.rel_l2 << " cos " << eo.cosine << " first_bad "
                          << eo.first_bad << "; LSE: max_abs " << el.max_abs << " first_bad " << el.first_bad);
    CHECK(eo.nan_count == 0);
    CHECK(eo.first_bad == -1);
    CHECK(eo.rel_l2 < 1e-2);
    CHECK(eo.cosine > 0.9999);
    CHECK(el.nan_count == 0);
    CHECK(el.first_bad == -1);
  }
}
