#include "bench_device.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "bench_options.h"
#include "decode.h"
#include "driver.h"
#include "ptxfmha/reference.h"

namespace ptxfmha_bench {

ptxfmha::DeviceInfo g_dev;
CUstream g_stream = nullptr;
std::size_t g_l2_bytes = 0;
std::string g_device_name;
std::string g_fatal;
EventPairs g_events;
GpuMonitor g_monitor;
MemoryPlan g_memory;

std::string sync_stream(const char* after) {
  CUresult r = ptxfmha::drv().cuStreamSynchronize(g_stream);
  if (r != CUDA_SUCCESS) {
    g_fatal = ptxfmha::cu_error_message(r, "cuStreamSynchronize") + std::string(" after ") + after +
              " (CUDA context unusable; later cases are not run)";
    return g_fatal;
  }
  return "";
}

// ---- arenas ------------------------------------------------------------------------------------
namespace {
std::map<std::string, Arena>& arenas() {
  static std::map<std::string, Arena> a;
  return a;
}

// Random N(0,1) bf16: the first kRandomElems elements are drawn on the host; a larger buffer
// repeats them (device copies), which costs seconds instead of minutes for a 64 GiB KV cache
// and changes nothing for timing (the period, 512 MiB, is ten times the L2) or checking (the
// reference reads the buffer back).
constexpr std::size_t kRandomElems = std::size_t(256) << 20;
void fill_random(const DeviceBuffer& buf, std::size_t elems, uint64_t seed) {
  const std::size_t first = std::min(elems, kRandomElems);
  upload_random_bf16(buf.ptr(), first, seed);
  const auto& d = ptxfmha::drv();
  for (std::size_t done = first; done < elems;) {
    const std::size_t n = std::min(done, elems - done);
    cu_check(d.cuMemcpyDtoD(buf.ptr() + done * 2, buf.ptr(), n * 2), "cuMemcpyDtoD");
    done += n;
  }
  // The copies run on the legacy stream, which g_stream (non-blocking) does not wait for.
  if (elems > first) cu_check(d.cuCtxSynchronize(), "cuCtxSynchronize");
}
// e4m3 caches (family decode_e4m3): the e4m3 codes of N(0, 1) x 16 (every finite code is valid;
// no NaN byte 0x7F / 0xFF), `bytes` of them; a larger buffer repeats the first 128 MiB (twice
// the H200's L2; the codes are drawn on the host, ~1 s).
void fill_random_e4m3(const DeviceBuffer& buf, std::size_t bytes, uint64_t seed) {
  const std::size_t first = std::min(bytes, std::size_t(128) << 20);
  std::vector<uint16_t> normal((first + 1) / 2);
  fill_normal_bf16(normal.data(), normal.size(), seed);
  std::vector<uint16_t> more((first + 1) / 2);
  fill_normal_bf16(more.data(), more.size(), seed ^ 0x9e3779b97f4a7c15ull);
  std::vector<uint8_t> codes(first);
  for (std::size_t i = 0; i < first; ++i) {
    const uint16_t b = (i % 2 ? more : normal)[i / 2];
    codes[i] = ptxfmha::float_to_e4m3(ptxfmha::bf16_to_float(b) * 16.0f);
  }
  const auto& d = ptxfmha::drv();
  cu_check(d.cuMemcpyHtoD(buf.ptr(), codes.data(), first), "cuMemcpyHtoD");
  for (std::size_t done = first; done < bytes;) {
    const std::size_t n = std::min(done, bytes - done);
    cu_check(d.cuMemcpyDtoD(buf.ptr() + done, buf.ptr(), n), "cuMemcpyDtoD");
    done += n;
  }
  cu_check(d.cuCtxSynchronize(), "cuCtxSynchronize");
}
}  // namespace

Arena& arena_for(const Case& c) { return arenas()[c.family]; }

namespace {
void release_arena(Arena& a) {
  for (DeviceBuffer* b : {&a.q, &a.k, &a.v, &a.o_ours, &a.o_cudnn, &a.lse_ours, &a.lse_cudnn, &a.dout,
                          &a.dq_ours, &a.dq_cudnn, &a.dk_ours, &a.dk_cudnn, &a.dv_ours, &a.dv_cudnn})
    b->release();
  a.ready = false;
}
}  // namespace

void ensure_arena(const Case& c) {
  Arena& a = arena_for(c);
  if (a.ready) return;
  const ArenaSize* cap = g_memory.arena(c.family);
  if (!cap) throw std::runtime_error("no arena was planned for family " + c.family);
  if (g_memory.in_turn)  // the arenas do not fit together (plan_memory): one family at a time
    for (auto& kv : arenas())
      if (kv.second.ready) {
        std::fprintf(stderr, "  releasing %s inputs (the families' arenas do not fit together)\n",
                     kv.first.c_str());
        release_arena(kv.second);
      }
  a.cap = *cap;
  std::fprintf(stderr, "  allocating and filling %s inputs (%.2f GiB) ...\n", c.family.c_str(),
               a.cap.bytes() / double(1 << 30));
  a.q.alloc(a.cap.q_elems * 2);
  a.k.alloc(a.cap.kv_elems * 2);
  a.v.alloc(a.cap.kv_elems * 2);
  a.o_ours.alloc(a.cap.o_elems * 2);
  a.o_cudnn.alloc(a.cap.o_elems * 2);
  a.lse_ours.alloc(a.cap.lse_elems * 4);
  a.lse_cudnn.alloc(a.cap.lse_elems * 4);
  const uint64_t base = c.decode() ? 0xdec0de : 0x5eed;
  fill_random(a.q, a.cap.q_elems, base + 1);
  if (c.kv_elem_bytes == 1) {  // e4m3 cache: one byte per element (the arena allots two)
    fill_random_e4m3(a.k, a.cap.kv_elems * 2, base + 2);  // every set's slice (2 bytes each)
    fill_random_e4m3(a.v, a.cap.kv_elems * 2, base + 3);
  } else {
    fill_random(a.k, a.cap.kv_elems, base + 2);
    fill_random(a.v, a.cap.kv_elems, base + 3);
  }
  if (a.cap.grad_q_elems > 0) {  // backward
    a.dout.alloc(a.cap.grad_q_elems * 2);
    for (DeviceBuffer* b : {&a.dq_ours, &a.dq_cudnn}) b->alloc(a.cap.grad_q_elems * 2);
    for (DeviceBuffer* b : {&a.dk_ours, &a.dk_cudnn, &a.dv_ours, &a.dv_cudnn}) b->alloc(a.cap.grad_kv_elems * 2);
    fill_random(a.dout, a.cap.grad_q_elems, base + 4);
  }
  a.ready = true;
}

void release_arenas() {
  for (auto& kv : arenas()) release_arena(kv.second);
}

// ---- per-case state ------------------------------------------------------------------------------
const char* side_name(int side) {
  return side == kCudnn ? "cuDNN" : side == kOurs ? "ptx-fmha" : "read ceiling";
}

const MethodTiming& CaseState::headline(int side) const {
  return timing[side][int(g_opt.headline())];
}

SetView set_view(const Case& c, const CaseState& cs, int s, int side) {
  const Arena& a = arenas().at(c.family);
  SetView v;
  v.q = a.q.get(std::size_t(s) * c.q_elems() * 2);
  v.k = a.k.get(std::size_t(s) * c.kv_elems() * 2);
  v.v = a.v.get(std::size_t(s) * c.kv_elems() * 2);
  const bool ours = side == kOurs;
  const bool o_ours = ours || c.grads;  // backward: the forward's O and LSE, inputs of both sides
  v.o = (o_ours ? a.o_ours : a.o_cudnn).get(std::size_t(s) * c.q_elems() * 2);
  v.lse = static_cast<float*>((o_ours ? a.lse_ours : a.lse_cudnn).get(std::size_t(s) * c.lse_elems() * 4));
  if (c.grads) {
    v.dout = a.dout.get(std::size_t(s) * c.q_elems() * 2);
    v.dq = (ours ? a.dq_ours : a.dq_cudnn).get(std::size_t(s) * c.q_elems() * 2);
    v.dk = (ours ? a.dk_ours : a.dk_cudnn).get(std::size_t(s) * c.kv_elems() * 2);
    v.dv = (ours ? a.dv_ours : a.dv_cudnn).get(std::size_t(s) * c.kv_elems() * 2);
  }
  if (c.paged()) {
    v.page_table = static_cast<const int32_t*>(cs.page_table.get());
    v.seqlens_q = static_cast<const int32_t*>(cs.seqlens_q.get());
    v.seqlens_k = static_cast<const int32_t*>(cs.seqlens_k.get());
  }
  if (cs.ours.ws_bytes) v.ours_ws = cs.ours_ws.get(std::size_t(s) * cs.ours.ws_bytes);
  return v;
}

void make_case_tables(const Case& c, CaseState& cs) {
  if (!c.paged()) return;
  // Pages in a random order (fixed seed): a serving engine's pool is not sequential.
  const int64_t n = c.num_pages();
  cs.page_table_host = decode_page_order(n);
  const auto& d = ptxfmha::drv();
  cs.page_table.alloc(std::size_t(n) * 4);
  cu_check(d.cuMemcpyHtoD(cs.page_table.ptr(), cs.page_table_host.data(), std::size_t(n) * 4),
           "cuMemcpyHtoD");
  std::vector<int32_t> sq(std::size_t(c.batch), int32_t(c.seqlen_q)), sk(std::size_t(c.batch), int32_t(c.seqlen_k));
  cs.seqlens_q.alloc(sq.size() * 4);
  cs.seqlens_k.alloc(sk.size() * 4);
  cu_check(d.cuMemcpyHtoD(cs.seqlens_q.ptr(), sq.data(), sq.size() * 4), "cuMemcpyHtoD");
  cu_check(d.cuMemcpyHtoD(cs.seqlens_k.ptr(), sk.data(), sk.size() * 4), "cuMemcpyHtoD");
}

void poison_set0(const Case& c, int side) {
  const auto& d = ptxfmha::drv();
  Arena& a = arena_for(c);
  const bool ours = side == kOurs;
  // 0xFFFF is a bf16 NaN, 0xFFFFFFFF an fp32 NaN: anything left unwritten fails the check.
  // On g_stream, in order with the launches: g_stream does not wait for the legacy stream
  // (CU_STREAM_NON_BLOCKING), and cuMemsetD32 there once ran after most of a persistent
  // kernel's LSE stores (its memset kernel got SMs only when the kernel's CTAs left), so the
  // gate saw ~95% of the LSE rows "unwritten" (H100, 2026-11-25).
  if (c.grads) {  // backward: the gradients are the outputs; O and LSE are inputs
    cu_check(d.cuMemsetD16Async((ours ? a.dq_ours : a.dq_cudnn).ptr(), 0xFFFF, c.q_elems(), g_stream),
             "cuMemsetD16Async");
    cu_check(d.cuMemsetD16Async((ours ? a.dk_ours : a.dk_cudnn).ptr(), 0xFFFF, c.kv_elems(), g_stream),
             "cuMemsetD16Async");
    cu_check(d.cuMemsetD16Async((ours ? a.dv_ours : a.dv_cudnn).ptr(), 0xFFFF, c.kv_elems(), g_stream),
             "cuMemsetD16Async");
    return;
  }
  cu_check(d.cuMemsetD16Async((ours ? a.o_ours : a.o_cudnn).ptr(), 0xFFFF, c.q_elems(), g_stream),
           "cuMemsetD16Async");
  cu_check(d.cuMemsetD32Async((ours ? a.lse_ours : a.lse_cudnn).ptr(), 0xFFFFFFFFu, c.lse_elems(),
                              g_stream),
           "cuMemsetD32Async");
}

void download_kv(const Case& c, const CaseState& cs, int64_t b, int64_t kn, uint16_t* k, uint16_t* v) {
  const Arena& a = arenas().at(c.family);
  const std::size_t row = std::size_t(c.heads_kv * c.head_dim);  // elements per token
  if (c.kv_elem_bytes == 1) {  // e4m3: the dequantised cache, exact in bf16 (power-of-two scales)
    std::vector<uint8_t> kb(std::size_t(kn) * row), vb(kb.size());
    const int64_t ps = c.paged() ? c.page_size : kn, bps = c.blocks_per_seq();
    for (int64_t blk = 0; blk * ps < kn; ++blk) {
      const int64_t page = c.paged() ? cs.page_table_host.at(std::size_t(b * bps + blk)) : 0;
      const int64_t rows = std::min(ps, kn - blk * ps);
      const std::size_t src = c.paged() ? std::size_t(page * ps) * row : std::size_t(b * c.seqlen_k) * row;
      download(kb.data() + std::size_t(blk * ps) * row, a.k.ptr() + src, std::size_t(rows) * row);
      download(vb.data() + std::size_t(blk * ps) * row, a.v.ptr() + src, std::size_t(rows) * row);
    }
    dequantise_e4m3_rows(kb.data(), kn, c.heads_kv, c.head_dim, false, k);
    dequantise_e4m3_rows(vb.data(), kn, c.heads_kv, c.head_dim, true, v);
    return;
  }
  if (!c.paged()) {
    const std::size_t off = std::size_t(b * c.seqlen_k) * row * 2;
    download(k, a.k.ptr() + off, std::size_t(kn) * row * 2);
    download(v, a.v.ptr() + off, std::size_t(kn) * row * 2);
    return;
  }
  const int64_t ps = c.page_size, bps = c.blocks_per_seq();
  for (int64_t blk = 0; blk * ps < kn; ++blk) {
    const int64_t page = cs.page_table_host.at(std::size_t(b * bps + blk));
    const int64_t rows = std::min(ps, kn - blk * ps);
    const std::size_t src = std::size_t(page * ps) * row * 2, dst = std::size_t(blk * ps) * row;
    download(k + dst, a.k.ptr() + src, std::size_t(rows) * row * 2);
    download(v + dst, a.v.ptr() + src, std::size_t(rows) * row * 2);
  }
}

float softmax_scale(const Case& c) { return 1.0f / std::sqrt(static_cast<float>(c.head_dim)); }

}  // namespace ptxfmha_bench
