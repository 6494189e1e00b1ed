// The timing case of ptxfmha_decode, "decode bandwidth", in test suite "gpu-decode" and skipped
// unless asked for (--no-skip -tc="decode bandwidth*"): it measures cuMemcpyDtoD bandwidth and
// ptxfmha_decode GB/s. The correctness suites: test_gpu_decode.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "decode.h"
#include "gpu_util.h"

using namespace ptxfmha_test;

TEST_SUITE("gpu-decode") {

namespace {

// Device inputs of one timing set: a cache of random finite bf16 (a 16 MiB random block,
// tiled on the device), a shuffled page table when paged, outputs and workspace.
struct BenchSet {
  DeviceBuffer q, k, v, o, lse, table, ws;
  ptxfmha_decode_params a;
};

void fill_random_bf16(DeviceBuffer& buf, std::size_t elems, const DeviceBuffer& block, std::size_t block_elems) {
  for (std::size_t off = 0; off < elems; off += block_elems) {
    const std::size_t n = std::min(block_elems, elems - off);
    PTXFMHA_CU_CHECK(cu().cuMemcpyDtoD(buf.ptr() + off * 2, block.ptr(), n * 2));
  }
}

}  // namespace

TEST_CASE("decode bandwidth: ptxfmha_decode GB/s against cuMemcpyDtoD" * doctest::skip(true)) {
  REQUIRE(ensure_context());
  const auto& dev = gpu();
  CUevent e0, e1;
  PTXFMHA_CU_CHECK(cu().cuEventCreate(&e0, CU_EVENT_DEFAULT));
  PTXFMHA_CU_CHECK(cu().cuEventCreate(&e1, CU_EVENT_DEFAULT));
  auto elapsed_ms = [&](auto&& body) {
    PTXFMHA_CU_CHECK(cu().cuEventRecord(e0, nullptr));
    body();
    PTXFMHA_CU_CHECK(cu().cuEventRecord(e1, nullptr));
    PTXFMHA_CU_CHECK(cu().cuEventSynchronize(e1));
    float ms = 0;
    cu().cuEventElapsedTime(&ms, e0, e1);
    return double(ms);
  };
  // Device copy: 2 GiB read + 2 GiB written per copy. The buffers stay: their copies are
  // also the "blocker" that keeps the GPU busy while the host enqueues the timed calls.
  const std::size_t copy_bytes = std::size_t(2) << 30;
  DeviceBuffer ca(copy_bytes), cb(copy_bytes);
  PTXFMHA_CU_CHECK(cu().cuMemcpyDtoD(cb.ptr(), ca.ptr(), copy_bytes));
  PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
  double copy_gbps = 0;
  {
    const int reps = 10;
    const double ms = elapsed_ms([&] {
      for (int i = 0; i < reps; ++i) PTXFMHA_CU_CHECK(cu().cuMemcpyDtoDAsync(cb.ptr(), ca.ptr(), copy_bytes, nullptr));
    });
    copy_gbps = 2.0 * double(copy_bytes) * reps / (ms * 1e-3) / 1e9;
  }
  const double copy_ms = 2.0 * double(copy_bytes) / (copy_gbps * 1e9) * 1e3;
  std::printf("[decode-bench] device %s (%d SMs), cuMemcpyDtoD of 2 GiB: %.1f GB/s (bytes read + written)\n",
              dev.name.c_str(), dev.info.num_sms, copy_gbps);
  const std::size_t block_elems = std::size_t(8) << 20;  // 16 MiB of random bf16
  DeviceBuffer block(block_elems * 2);
  {
    std::mt19937_64 rng(7);
    std::normal_distribution<double> nd(0.0, 1.0);
    std::vector<uint16_t> h(block_elems);
    for (auto& x : h) x = ptxfmha::float_to_bf16(float(nd(rng)));
    block.upload(h);
  }
  // splits: 0 = the library's choice, else forced; pdl: 0 = combine launched without PDL.
  struct Shape { int b, L, hq, hkv, D, sq, page, splits = 0, pdl = 1; };
  const Shape shapes[] = {
      {1, 8192, 32, 8, 128, 1, 0},   {8, 8192, 32, 8, 128, 1, 0},   {32, 8192, 32, 8, 128, 1, 0},
      {64, 8192, 32, 8, 128, 1, 0},  {64, 4096, 32, 8, 128, 1, 0},  {16, 32768, 32, 8, 128, 1, 0},
      {1, 32768, 32, 8, 128, 1, 0},  {1, 8192, 32, 8, 128, 1, 64},  {8, 8192, 32, 8, 128, 1, 16},
      {32, 8192, 32, 8, 128, 1, 128}, {8, 8192, 32, 8, 128, 4, 0},  {8, 8192, 128, 8, 128, 8, 0},
      {8, 8192, 32, 8, 64, 1, 0},    {8, 8192, 32, 8, 256, 1, 0},   {4, 8192, 32, 32, 128, 1, 0},
      {1, 8192, 32, 8, 128, 1, 0, 0, 0},  {1, 8192, 32, 8, 128, 1, 0, 16}, {1, 8192, 32, 8, 128, 1, 0, 24},
      {1, 8192, 32, 8, 128, 1, 0, 48},    {1, 8192, 32, 8, 128, 1, 0, 64}, {8, 8192, 32, 8, 128, 1, 0, 8},
      {8, 8192, 32, 8, 64, 1, 0, 12},     {8, 8192, 32, 8, 64, 1, 0, 3},
  };
  for (const Shape& s : shapes) {
    const bool paged = s.page > 0;
    const int rows = paged ? s.page : s.L;
    const int mbps = paged ? (s.L + s.page - 1) / s.page : 0;
    const int pages = paged ? s.b * mbps : s.b;
    const int64_t cache_elems = int64_t(pages) * rows * s.hkv * s.D;
    const int64_t kv_bytes = int64_t(s.b) * s.L * s.hkv * s.D * 2 * 2;
    const int64_t qo_elems = int64_t(s.b) * s.sq * s.hq * s.D;
    const int64_t qo_bytes = qo_elems * 2 * 2;
    // Enough input sets to exceed the 50 MB L2 several times over: every call reads HBM.
    const int sets = int(std::max<int64_t>(2, (400ll << 20) / kv_bytes + 1));
    std::vector<std::unique_ptr<BenchSet>> bs;
    std::mt19937_64 rng(11);
    for (int i = 0; i < sets; ++i) {
      bs.emplace_back(new BenchSet());
      BenchSet& x = *bs.back();
      x.q.alloc(std::size_t(qo_elems) * 2);
      x.o.alloc(std::size_t(qo_elems) * 2);
      x.lse.alloc(std::size_t(s.b) * s.hq * s.sq * 4);
      x.k.alloc(std::size_t(cache_elems) * 2);
      x.v.alloc(std::size_t(cache_elems) * 2);
      fill_random_bf16(x.q, std::size_t(qo_elems), block, block_elems);
      fill_random_bf16(x.k, std::size_t(cache_elems), block, block_elems);
      fill_random_bf16(x.v, std::size_t(cache_elems), block, block_elems);
      std::memset(&x.a, 0, sizeof x.a);
      ptxfmha_decode_params& a = x.a;
      if (paged) {
        std::vector<int32_t> t(static_cast<std::size_t>(pages));
        std::iota(t.begin(), t.end(), 0);
        std::shuffle(t.begin(), t.end(), rng);
        x.table.alloc(t.size() * 4);
        x.table.upload(t);
        a.block_table = reinterpret_cast<const int32_t*>(x.table.get());
        a.page_size = s.page; a.max_blocks_per_seq = mbps; a.num_pages = pages;
      }
      a.q = x.q.get(); a.k_cache = x.k.get(); a.v_cache = x.v.get(); a.o = x.o.get();
      a.lse = reinterpret_cast<float*>(x.lse.get());
      a.q_head_stride = a.o_head_stride = s.D;
      a.q_seq_stride = a.o_seq_stride = int64_t(s.hq) * s.D;
      a.q_batch_stride = a.o_batch_stride = int64_t(s.sq) * s.hq * s.D;
      a.k_head_stride = a.v_head_stride = s.D;
      a.k_seq_stride = a.v_seq_stride = int64_t(s.hkv) * s.D;
      a.k_batch_stride = a.v_batch_stride = int64_t(rows) * s.hkv * s.D;
      a.batch = s.b; a.seqlen_q = s.sq; a.max_seqlen_k = s.L; a.heads_q = s.hq; a.heads_kv = s.hkv;
      a.head_dim = s.D; a.softmax_scale = float(1.0 / std::sqrt(double(s.D)));
      a.num_splits = s.splits;
      uint64_t ws = 0;
      REQUIRE(ptxfmha_decode_workspace_size(&a, &ws) == PTXFMHA_OK);
      if (ws) x.ws.alloc(ws);
      a.workspace = ws ? x.ws.get() : nullptr;
      a.workspace_bytes = ws;
    }
    if (!s.pdl) setenv("PTXFMHA_DECODE_PDL", "0", 1);
    for (auto& x : bs) REQUIRE(ptxfmha_decode(&x->a) == PTXFMHA_OK);  // warm-up: modules, clocks
    PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
    const int iters = int(std::min<int64_t>(200, std::max<int64_t>(20, 3000000000ll / kv_bytes)));
    // Timing: blocker copies first, so that the host has enqueued every timed call before the
    // GPU reaches the first event; the events then bracket device time only (kernels and the
    // gaps between back-to-back launches), not the host's per-call work, printed separately.
    const int blockers = int(std::max(2.0, std::ceil(iters * 0.1 / copy_ms)));  // >= 100 us host time per call
    for (int i = 0; i < blockers; ++i) PTXFMHA_CU_CHECK(cu().cuMemcpyDtoDAsync(cb.ptr(), ca.ptr(), copy_bytes, nullptr));
    PTXFMHA_CU_CHECK(cu().cuEventRecord(e0, nullptr));
    const auto h0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) ptxfmha_decode(&bs[std::size_t(i % sets)]->a);
    const auto h1 = std::chrono::steady_clock::now();
    PTXFMHA_CU_CHECK(cu().cuEventRecord(e1, nullptr));
    PTXFMHA_CU_CHECK(cu().cuEventSynchronize(e1));
    float msf = 0;
    cu().cuEventElapsedTime(&msf, e0, e1);
    const double ms = double(msf);
    const double host_us = std::chrono::duration<double, std::micro>(h1 - h0).count() / iters;
    const bool host_bound = host_us * iters > blockers * copy_ms * 1e3;
    if (!s.pdl) unsetenv("PTXFMHA_DECODE_PDL");
    const double us = ms * 1e3 / iters;
    const double gbps = double(kv_bytes + qo_bytes) / (us * 1e-6) / 1e9;
    ptxfmha::DecodePlan plan;
    REQUIRE(ptxfmha::decode_plan(&bs[0]->a, &plan) == PTXFMHA_OK);
    std::printf("[decode-bench] B=%-3d L=%-6d Hq=%-3d Hkv=%-2d D=%-3d Sq=%d %-10s %9.2f us %8.1f GB/s %6.1f%% of copy"
                "  (splits %d%s%s, %d input sets, %d calls, host %.1f us/call%s)\n",
                s.b, s.L, s.hq, s.hkv, s.D, s.sq, paged ? ("page " + std::to_string(s.page)).c_str() : "contiguous",
                us, gbps, 100.0 * gbps / copy_gbps, plan.num_splits, s.splits ? " forced" : "",
                s.pdl ? "" : ", combine without PDL", sets, iters, host_us,
                host_bound ? ", HOST-BOUND: device time includes gaps" : "");
    std::fflush(stdout);
  }
  cu().cuEventDestroy(e0);
  cu().cuEventDestroy(e1);
}

}  // TEST_SUITE
