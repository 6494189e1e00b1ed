// CPU tests of argument validation (host/src/validate.cpp) through the public ptxfmha_fwd and
// the internal validate_fwd_shape: every invalid argument is its own row with its exact status
// and a message naming the argument. Validation runs before any device use, so these run on a
// machine without a GPU; the tensors are host buffers filled with a poison pattern that must be
// unchanged afterwards (nothing is written on failure).
//
// Checks that need a device (head_dim support for the device's arch, device pointers, cubins)
// are covered by validate_fwd_head_dim with an explicit sm here, by test_cpu_host_cubin.cpp
// without a device, and by test_gpu_host.cpp on a GPU.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "driver.h"
#include "kernel_table.h"
#include "ptxfmha/ptxfmha.h"
#include "runtime.h"
#include "validate.h"

namespace {

constexpr uint8_t kPoison = 0xA5;
constexpr int B = 2, SQ = 16, SK = 24, HQ = 4, HKV = 2, D = 64;

// One poisoned arena holding q, k, v, o, lse (dense BSHD), 4 KiB apart and 4 KiB aligned.
struct Arena {
  std::vector<uint8_t> bytes;
  uint8_t* base;
  size_t q_off, k_off, v_off, o_off, lse_off, end;
  Arena() {
    auto round = [](size_t x) { return (x + 4095) / 4096 * 4096; };
    q_off = 0;
    k_off = q_off + round(size_t(B) * SQ * HQ * D * 2);
    v_off = k_off + round(size_t(B) * SK * HKV * D * 2);
    o_off = v_off + round(size_t(B) * SK * HKV * D * 2);
    lse_off = o_off + round(size_t(B) * SQ * HQ * D * 2);
    end = lse_off + round(size_t(B) * HQ * SQ * 4);
    bytes.assign(end + 8192, kPoison);
    uintptr_t p = reinterpret_cast<uintptr_t>(bytes.data());
    base = bytes.data() + ((4096 - p % 4096) % 4096);
  }
  bool untouched() const {
    for (uint8_t b : bytes)
      if (b != kPoison) return false;
    return true;
  }
};

ptxfmha_fwd_params valid_params(Arena& a) {
  ptxfmha_fwd_params p;
  std::memset(&p, 0, sizeof p);
  p.q = a.base + a.q_off;
  p.k = a.base + a.k_off;
  p.v = a.base + a.v_off;
  p.o = a.base + a.o_off;
  p.lse = reinterpret_cast<float*>(a.base + a.lse_off);
  p.q_head_stride = D, p.q_seq_stride = HQ * D, p.q_batch_stride = int64_t(SQ) * HQ * D;
  p.k_head_stride = D, p.k_seq_stride = HKV * D, p.k_batch_stride = int64_t(SK) * HKV * D;
  p.v_head_stride = D, p.v_seq_stride = HKV * D, p.v_batch_stride = int64_t(SK) * HKV * D;
  p.o_head_stride = D, p.o_seq_stride = HQ * D, p.o_batch_stride = int64_t(SQ) * HQ * D;
  p.batch = B;
  p.seqlen_q = SQ;
  p.seqlen_k = SK;
  p.heads_q = HQ;
  p.heads_kv = HKV;
  p.head_dim = D;
  p.softmax_scale = 0.125f;
  p.causal = 0;
  p.stream = nullptr;
  return p;
}

struct BadRow {
  const char* what;
  std::function<void(ptxfmha_fwd_params&, Arena&)> mutate;
  ptxfmha_status expect;
  std::vector<const char*> names;  // substrings the message must contain
};

const void* at(const void* p, ptrdiff_t bytes) {
  return static_cast<const uint8_t*>(p) + bytes;
}

std::vector<BadRow> bad_rows() {
  using P = ptxfmha_fwd_params;
  using A = Arena;
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<BadRow> r = {
      // --- null pointers
      {"q null", [](P& p, A&) { p.q = nullptr; }, PTXFMHA_ERR_NULL_POINTER, {"q is NULL"}},
      {"k null", [](P& p, A&) { p.k = nullptr; }, PTXFMHA_ERR_NULL_POINTER, {"k is NULL"}},
      {"v null", [](P& p, A&) { p.v = nullptr; }, PTXFMHA_ERR_NULL_POINTER, {"v is NULL"}},
      {"o null", [](P& p, A&) { p.o = nullptr; }, PTXFMHA_ERR_NULL_POINTER, {"o is NULL"}},
      // --- sizes
      {"batch 0", [](P& p, A&) { p.batch = 0; }, PTXFMHA_ERR_INVALID_SIZE, {"batch = 0"}},
      {"batch -1", [](P& p, A&) { p.batch = -1; }, PTXFMHA_ERR_INVALID_SIZE, {"batch = -1"}},
      {"seqlen_q 0", [](P& p, A&) { p.seqlen_q = 0; }, PTXFMHA_ERR_INVALID_SIZE, {"seqlen_q = 0"}},
      {"seqlen_k 0", [](P& p, A&) { p.seqlen_k = 0; }, PTXFMHA_ERR_INVALID_SIZE, {"seqlen_k = 0"}},
      {"seqlen_k -5", [](P& p, A&) { p.seqlen_k = -5; }, PTXFMHA_ERR_INVALID_SIZE, {"seqlen_k = -5"}},
      {"heads_q 0", [](P& p, A&) { p.heads_q = 0; }, PTXFMHA_ERR_INVALID_SIZE, {"heads_q = 0"}},
      {"heads_kv 0", [](P& p, A&) { p.heads_kv = 0; }, PTXFMHA_ERR_INVALID_SIZE, {"heads_kv = 0"}},
      {"head_dim 0", [](P& p, A&) { p.head_dim = 0; }, PTXFMHA_ERR_INVALID_SIZE, {"head_dim = 0"}},
      {"head_dim -64", [](P& p, A&) { p.head_dim = -64; }, PTXFMHA_ERR_INVALID_SIZE, {"head_dim = -64"}},
      // --- GQA
      {"heads_q 4 / heads_kv 3", [](P& p, A&) { p.heads_kv = 3; }, PTXFMHA_ERR_GQA_RATIO,
       {"heads_q = 4", "heads_kv = 3"}},
      {"heads_q < heads_kv", [](P& p, A&) { p.heads_q = 1; p.heads_kv = 2; }, PTXFMHA_ERR_GQA_RATIO,
       {"heads_q = 1", "heads_kv = 2"}},
      // --- alignment
      {"q +2 bytes", [](P& p, A&) { p.q = at(p.q, 2); }, PTXFMHA_ERR_MISALIGNED_POINTER, {"q = "}},
      {"k +8 bytes", [](P& p, A&) { p.k = at(p.k, 8); }, PTXFMHA_ERR_MISALIGNED_POINTER, {"k = "}},
      {"v +2 bytes", [](P& p, A&) { p.v = at(p.v, 2); }, PTXFMHA_ERR_MISALIGNED_POINTER, {"v = "}},
      {"o +4 bytes", [](P& p, A&) { p.o = const_cast<void*>(at(p.o, 4)); }, PTXFMHA_ERR_MISALIGNED_POINTER, {"o = "}},
      {"lse +4 bytes", [](P& p, A&) { p.lse += 1; }, PTXFMHA_ERR_MISALIGNED_POINTER, {"lse = "}},
      // --- scale
      {"scale NaN", [](P& p, A&) { p.softmax_scale = std::nanf(""); }, PTXFMHA_ERR_INVALID_SCALE, {"softmax_scale"}},
      {"scale +inf", [inf](P& p, A&) { p.softmax_scale = inf; }, PTXFMHA_ERR_INVALID_SCALE, {"softmax_scale"}},
      {"scale -inf", [inf](P& p, A&) { p.softmax_scale = -inf; }, PTXFMHA_ERR_INVALID_SCALE, {"softmax_scale"}},
      {"scale 0", [](P& p, A&) { p.softmax_scale = 0.0f; }, PTXFMHA_ERR_INVALID_SCALE, {"softmax_scale = 0"}},
      {"scale -0", [](P& p, A&) { p.softmax_scale = -0.0f; }, PTXFMHA_ERR_INVALID_SCALE, {"softmax_scale"}},
      {"scale -1", [](P& p, A&) { p.softmax_scale = -1.0f; }, PTXFMHA_ERR_INVALID_SCALE, {"softmax_scale = -1"}},
      // --- causal
      {"causal 2", [](P& p, A&) { p.causal = 2; }, PTXFMHA_ERR_INVALID_ARGUMENT, {"causal = 2"}},
      {"causal -1", [](P& p, A&) { p.causal = -1; }, PTXFMHA_ERR_INVALID_ARGUMENT, {"causal = -1"}},
      // --- grid / 32-bit limits
      {"heads_q 65536", [](P& p, A&) { p.heads_q = 65536; p.heads_kv = 1; }, PTXFMHA_ERR_SIZE_OVERFLOW, {"heads_q = 65536"}},
      {"batch 65536", [](P& p, A&) { p.batch = 65536; }, PTXFMHA_ERR_SIZE_OVERFLOW, {"batch = 65536"}},
      {"rows > 2^31", [](P& p, A&) { p.batch = 1024; p.heads_q = 1024; p.heads_kv = 1024; p.seqlen_q = 2048; },
       PTXFMHA_ERR_SIZE_OVERFLOW, {"batch * heads_q * seqlen_q"}},
      // --- negative strides
      {"q_seq_stride < 0", [](P& p, A&) { p.q_seq_stride = -p.q_seq_stride; }, PTXFMHA_ERR_INVALID_STRIDE, {"q_seq_stride", "negative"}},
      {"k_head_stride < 0", [](P& p, A&) { p.k_head_stride = -64; }, PTXFMHA_ERR_INVALID_STRIDE, {"k_head_stride", "negative"}},
      {"v_batch_stride < 0", [](P& p, A&) { p.v_batch_stride = -8; }, PTXFMHA_ERR_INVALID_STRIDE, {"v_batch_stride", "negative"}},
      {"o_seq_stride < 0", [](P& p, A&) { p.o_seq_stride = -256; }, PTXFMHA_ERR_INVALID_STRIDE, {"o_seq_stride", "negative"}},
      // --- strides that are not 16-byte multiples
      {"q_head_stride 68", [](P& p, A&) { p.q_head_stride = 68; p.q_seq_stride = 4 * 68 + 8; p.q_batch_stride = 16 * (4 * 68 + 8); },
       PTXFMHA_ERR_INVALID_STRIDE, {"q_head_stride = 68", "multiple of 8"}},
      {"k_seq_stride +1", [](P& p, A&) { p.k_seq_stride += 1; p.k_batch_stride = SK * 136; },
       PTXFMHA_ERR_INVALID_STRIDE, {"k_seq_stride"}},
      {"v_batch_stride +2", [](P& p, A&) { p.v_batch_stride += 2; }, PTXFMHA_ERR_INVALID_STRIDE, {"v_batch_stride"}},
      {"o_head_stride 100", [](P& p, A&) { p.o_head_stride = 100; p.o_seq_stride = 512; p.o_batch_stride = 16 * 512; },
       PTXFMHA_ERR_INVALID_STRIDE, {"o_head_stride = 100"}},
      // --- rows overlapping inside one tensor
      {"q_head_stride < head_dim", [](P& p, A&) { p.q_head_stride = 56; }, PTXFMHA_ERR_INVALID_STRIDE, {"q_head_stride = 56", "overlap"}},
      {"k_seq_stride < heads*head_stride", [](P& p, A&) { p.k_seq_stride = 64; }, PTXFMHA_ERR_INVALID_STRIDE, {"k_", "overlap"}},
      {"v_batch_stride < seq span", [](P& p, A&) { p.v_batch_stride = int64_t(SK - 1) * HKV * D; },
       PTXFMHA_ERR_INVALID_STRIDE, {"v_batch_stride", "overlap"}},
      {"o_seq_stride 0 (broadcast)", [](P& p, A&) { p.o_seq_stride = 0; }, PTXFMHA_ERR_INVALID_STRIDE, {"o_seq_stride = 0", "overlap"}},
      {"BHSD q with head stride one row short", [](P& p, A&) { p.q_seq_stride = D; p.q_head_stride = (SQ - 1) * D; p.q_batch_stride = HQ * SQ * D; },
       PTXFMHA_ERR_INVALID_STRIDE, {"q_head_stride", "overlap"}},
      {"k seq and head strides equal", [](P& p, A&) { p.k_seq_stride = D; p.k_head_stride = D; },
       PTXFMHA_ERR_INVALID_STRIDE, {"k_", "overlap"}},
      // batch between head and seq ([S, B, H, D] order) with too small a batch stride
      {"q batch stride inside the head span", [](P& p, A&) { p.q_seq_stride = 2 * HQ * D; p.q_batch_stride = 128; },
       PTXFMHA_ERR_INVALID_STRIDE, {"q_batch_stride = 128", "overlap"}},
      // --- TMA / 64-bit limits
      {"q_batch_stride 2^39 elements = 2^40 bytes", [](P& p, A&) { p.q_batch_stride = int64_t(1) << 39; },
       PTXFMHA_ERR_SIZE_OVERFLOW, {"q_batch_stride", "2^40"}},
      {"k_seq_stride 2^39 elements", [](P& p, A&) { p.batch = 1; p.k_seq_stride = int64_t(1) << 39; },
       PTXFMHA_ERR_SIZE_OVERFLOW, {"k_seq_stride", "2^40"}},
      {"v extent overflows int64", [](P& p, A&) {
         p.seqlen_k = 1 << 30; p.v_seq_stride = (int64_t(1) << 39) - 8; p.v_batch_stride = 0; p.batch = 1; p.seqlen_q = 1; },
       PTXFMHA_ERR_SIZE_OVERFLOW, {"v: extent", "overflows"}},
      {"q extent wraps the address space", [](P& p, A&) { p.q = reinterpret_cast<const void*>(uintptr_t(0xfffffffffffff000ull)); },
       PTXFMHA_ERR_SIZE_OVERFLOW, {"q", "overflows"}},
      // --- aliasing
      {"o == q", [](P& p, A&) { p.o = const_cast<void*>(p.q); }, PTXFMHA_ERR_ALIASING, {"o ", "overlaps q"}},
      {"o starts inside k", [](P& p, A& a) { p.o = a.base + a.v_off - 4096; }, PTXFMHA_ERR_ALIASING, {"o ", "overlaps k"}},
      {"o starts inside v", [](P& p, A& a) { p.o = a.base + a.v_off + 4096; p.lse = nullptr; }, PTXFMHA_ERR_ALIASING, {"o ", "overlaps v"}},
      {"o interleaved in q's padding", [](P& p, A&) {
         p.q_head_stride = 2 * D; p.q_seq_stride = HQ * 2 * D; p.q_batch_stride = SQ * HQ * 2 * D;
         p.o_head_stride = 2 * D; p.o_seq_stride = HQ * 2 * D; p.o_batch_stride = SQ * HQ * 2 * D;
         p.o = const_cast<void*>(at(p.q, D * 2)); p.lse = nullptr; },
       PTXFMHA_ERR_ALIASING, {"o ", "overlaps q"}},
      {"lse inside o", [](P& p, A& a) { p.lse = reinterpret_cast<float*>(a.base + a.o_off + 1024); }, PTXFMHA_ERR_ALIASING, {"lse", "overlaps o"}},
      {"lse overlaps q", [](P& p, A& a) { p.lse = reinterpret_cast<float*>(a.base + a.q_off + 4096); }, PTXFMHA_ERR_ALIASING, {"lse", "overlaps q"}},
      {"lse inside v", [](P& p, A& a) { p.lse = reinterpret_cast<float*>(a.base + a.v_off + 4096); }, PTXFMHA_ERR_ALIASING, {"lse", "overlaps v"}},
      {"lse straddles the end of k", [](P& p, A& a) { p.lse = reinterpret_cast<float*>(a.base + a.v_off - 16); }, PTXFMHA_ERR_ALIASING, {"lse", "overlaps k"}},
  };
  return r;
}

}  // namespace

TEST_CASE("validate: the valid baseline passes, in several legal layouts") {
  Arena a;
  ptxfmha_fwd_params p = valid_params(a);
  CHECK(ptxfmha::validate_fwd_shape(&p) == PTXFMHA_OK);
  SUBCASE("lse absent") {
    p.lse = nullptr;
    CHECK(ptxfmha::validate_fwd_shape(&p) == PTXFMHA_OK);
  }
  SUBCASE("BHSD q (heads slower than seq)") {
    p.q_seq_stride = D;
    p.q_head_stride = SQ * D;
    p.q_batch_stride = HQ * SQ * D;
    CHECK(ptxfmha::validate_fwd_shape(&p) == PTXFMHA_OK);
  }
  SUBCASE("padded rows and batches") {
    p.k_head_stride = D + 8;
    p.k_seq_stride = HKV * (D + 8) + 16;
    p.k_batch_stride = 0;  // overwritten below: batch 2 needs a real stride
    p.k_batch_stride = SK * p.k_seq_stride;
    CHECK(ptxfmha::validate_fwd_shape(&p) == PTXFMHA_OK);  // k still ends before v
  }
  SUBCASE("strides of extent-1 dims are ignored") {
    p.batch = 1;
    p.heads_q = p.heads_kv = 1;
    p.q_batch_stride = -3;  // unused: batch == 1
    p.q_head_stride = 1;    // unused: heads == 1
    p.q_seq_stride = D;
    CHECK(ptxfmha::validate_fwd_shape(&p) == PTXFMHA_OK);
  }
  SUBCASE("inputs may overlap each other (packed QKV)") {
    p.v = p.k;
    CHECK(ptxfmha::validate_fwd_shape(&p) == PTXFMHA_OK);
  }
  CHECK(a.untouched());
}

TEST_CASE("validate: params NULL") {
  ptxfmha::clear_last_error();
  CHECK(ptxfmha_fwd(nullptr) == PTXFMHA_ERR_NULL_POINTER);
  CHECK(std::string(ptxfmha_last_error()).find("params") != std::string::npos);
}

TEST_CASE("validate: every invalid fwd argument has its own status and names the argument") {
  for (const BadRow& row : bad_rows()) {
    CAPTURE(row.what);
    Arena a;
    ptxfmha_fwd_params p = valid_params(a);
    row.mutate(p, a);
    const ptxfmha_fwd_params before = p;

    ptxfmha::clear_last_error();
    const ptxfmha_status st = ptxfmha::validate_fwd_shape(&p);
    const std::string msg = ptxfmha::last_error_message();
    CAPTURE(msg);
    CHECK(st == row.expect);
    for (const char* name : row.names) {
      CAPTURE(name);
      CHECK(msg.find(name) != std::string::npos);
    }
    // The public entry point reports the same, before touching any device.
    ptxfmha::clear_last_error();
    CHECK(ptxfmha_fwd(&p) == row.expect);
    CHECK(msg == ptxfmha_last_error());
    CHECK(std::memcmp(&before, &p, sizeof p) == 0);  // params untouched
    CHECK(a.untouched());                            // no tensor byte written
  }
}

TEST_CASE("validate: status strings are distinct and non-empty") {
  std::vector<std::string> seen;
  for (int s = PTXFMHA_OK; s <= PTXFMHA_ERR_INVALID_METADATA; ++s) {
    std::string t = ptxfmha_status_string(static_cast<ptxfmha_status>(s));
    CHECK(!t.empty());
    for (const auto& o : seen) CHECK(o != t);
    seen.push_back(t);
  }
  CHECK(std::string(ptxfmha_status_string(static_cast<ptxfmha_status>(999))) == "unknown status");
}

TEST_CASE("validate: last error is per thread") {
  ptxfmha::clear_last_error();
  CHECK(ptxfmha_fwd(nullptr) == PTXFMHA_ERR_NULL_POINTER);
  std::string other = "unset";
  std::thread t([&] { other = ptxfmha_last_error(); });
  t.join();
  CHECK(other.empty());
  CHECK(!std::string(ptxfmha_last_error()).empty());
}

TEST_CASE("validate: head_dim support comes from the kernel table of the device's arch") {
  Arena a;
  ptxfmha_fwd_params p = valid_params(a);
  const std::vector<int> dims90 = ptxfmha::supported_head_dims(90, ptxfmha::KernelKind::Fwd);
  for (int d : dims90) {
    p.head_dim = d;
    CHECK(ptxfmha::validate_fwd_head_dim(p, 90) == PTXFMHA_OK);
  }
  for (int d : {8, 24, 96, 100, 512}) {
    bool in = false;
    for (int x : dims90) in = in || x == d;
    if (in) continue;
    CAPTURE(d);
    p.head_dim = d;
    ptxfmha::clear_last_error();
    CHECK(ptxfmha::validate_fwd_head_dim(p, 90) == PTXFMHA_ERR_UNSUPPORTED_HEAD_DIM);
    std::string msg = ptxfmha::last_error_message();
    CHECK(msg.find("head_dim = " + std::to_string(d)) != std::string::npos);
    CHECK(msg.find(ptxfmha::head_dims_string(dims90)) != std::string::npos);
    CHECK(msg.find("sm_90") != std::string::npos);
  }
  // Devices without kernels: every head_dim is unsupported and the message says why.
  for (int sm : {75, 80, 86, 89, 120}) {
    CAPTURE(sm);
    p.head_dim = 128;
    ptxfmha::clear_last_error();
    CHECK(ptxfmha::validate_fwd_head_dim(p, sm) == PTXFMHA_ERR_UNSUPPORTED_HEAD_DIM);
    CHECK(std::string(ptxfmha::last_error_message()).find("no kernels") != std::string::npos);
  }
  CHECK(a.untouched());
}

TEST_CASE("runtime: compute capability -> kernel folder") {
  CHECK(std::string(ptxfmha::arch_for_cc(9, 0)) == "sm90a");
  CHECK(std::string(ptxfmha::arch_for_cc(10, 0)) == "sm100a");
  CHECK(ptxfmha::arch_for_cc(10, 3) == nullptr);  // sm_100a runs on cc 10.0 only
  CHECK(ptxfmha::arch_for_cc(8, 0) == nullptr);
  CHECK(ptxfmha::arch_for_cc(8, 9) == nullptr);
  CHECK(ptxfmha::arch_for_cc(12, 0) == nullptr);
  CHECK(ptxfmha::arch_for_cc(9, 1) == nullptr);
  ptxfmha::DeviceInfo info;
  info.cc_major = 8;
  info.cc_minor = 9;
  info.sm = 89;
  ptxfmha::clear_last_error();
  CHECK(ptxfmha::require_arch(info) == PTXFMHA_ERR_UNSUPPORTED_ARCH);
  CHECK(std::string(ptxfmha::last_error_message()).find("8.9") != std::string::npos);
}

TEST_CASE("runtime: kernel table lookups") {
  for (const ptxfmha::KernelInfo* r : ptxfmha::all_kernels()) {
    CAPTURE(r->name);
    CHECK(ptxfmha::find_kernel(r->sm, r->kind, r->head_dim) != nullptr);
    CHECK(ptxfmha::find_kernel(r->sm, r->kind, r->head_dim)->kind == r->kind);
    CHECK(ptxfmha::find_kernel(r->sm, r->kind, r->head_dim + 1) == nullptr);
  }
  CHECK(ptxfmha::find_kernel(80, ptxfmha::KernelKind::Fwd, 128) == nullptr);
  CHECK(ptxfmha::head_dims_string({}) == "none");
  CHECK(ptxfmha::head_dims_string({64, 128}) == "64, 128");
}

TEST_CASE("runtime: cubin directory precedence (override > env > compiled-in)") {
#ifdef PTXFMHA_DEFAULT_CUBIN_DIR
  const std::string compiled = PTXFMHA_DEFAULT_CUBIN_DIR;
#else
  const std::string compiled = "build/cubin";  // runtime.cpp's fallback
#endif
  const char* env_before = std::getenv("PTXFMHA_CUBIN_DIR");
  std::string saved_env = env_before ? env_before : "";
  ptxfmha_set_cubin_dir(nullptr);
  unsetenv("PTXFMHA_CUBIN_DIR");
  CHECK(std::string(ptxfmha_get_cubin_dir()) == compiled);
  setenv("PTXFMHA_CUBIN_DIR", "/tmp/from-env", 1);
  CHECK(std::string(ptxfmha_get_cubin_dir()) == "/tmp/from-env");
  CHECK(ptxfmha_set_cubin_dir("/tmp/override") == PTXFMHA_OK);
  CHECK(std::string(ptxfmha_get_cubin_dir()) == "/tmp/override");
  CHECK(ptxfmha_set_cubin_dir("") == PTXFMHA_OK);  // "" restores the default like NULL
  CHECK(std::string(ptxfmha_get_cubin_dir()) == "/tmp/from-env");
  ptxfmha_set_cubin_dir(nullptr);
  if (env_before) setenv("PTXFMHA_CUBIN_DIR", saved_env.c_str(), 1);
  else unsetenv("PTXFMHA_CUBIN_DIR");
  CHECK(ptxfmha::cubin_path("/a/b/", "sm90a", "k") == "/a/b/sm90a/k.cubin");
  CHECK(ptxfmha::cubin_path("/a/b", "sm100a", "k") == "/a/b/sm100a/k.cubin");
  std::string longdir(5000, 'x');
  CHECK(ptxfmha_set_cubin_dir(longdir.c_str()) == PTXFMHA_ERR_INVALID_ARGUMENT);
  CHECK(std::string(ptxfmha_last_error()).find("dir") != std::string::npos);
}

TEST_CASE("runtime: version string") {
  CHECK(std::string(ptxfmha_version()).size() > 0);
}

TEST_CASE("driver: a missing driver library is NO_DRIVER, not a crash") {
  ptxfmha::DriverApi api;
  std::string msg;
  CHECK(ptxfmha::load_driver("/nonexistent/libcuda.so.1", &api, &msg) == PTXFMHA_ERR_NO_DRIVER);
  CHECK(msg.find("/nonexistent/libcuda.so.1") != std::string::npos);
  CHECK(reinterpret_cast<void*>(api.cuInit) == nullptr);
  // A library that exists but is not the driver (no cuGetProcAddress_v2).
  CHECK(ptxfmha::load_driver("libm.so.6", &api, &msg) == PTXFMHA_ERR_NO_DRIVER);
  CHECK(msg.find("cuGetProcAddress_v2") != std::string::npos);
}

// Suite "no-gpu": tests/main.cpp excludes it where a CUDA device is present (decided in main,
// never at static initialisation, where touching the driver is not safe).
TEST_CASE("driver: a valid call on a machine without a usable driver/device says so" *
          doctest::test_suite("no-gpu")) {
  std::string msg;
  const ptxfmha_status drv = ptxfmha::driver_init(&msg);
  CHECK((drv == PTXFMHA_ERR_NO_DRIVER || drv == PTXFMHA_ERR_NO_DEVICE));
  Arena a;
  ptxfmha_fwd_params p = valid_params(a);
  ptxfmha::clear_last_error();
  CHECK(ptxfmha_fwd(&p) == drv);
  CHECK(std::string(ptxfmha_last_error()) == msg);
  CHECK(a.untouched());
  // cu_error_message still formats without a driver
  CHECK(ptxfmha::cu_error_message(CUDA_ERROR_INVALID_VALUE, "x").find("x failed") == 0);
}
