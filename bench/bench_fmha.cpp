// ptxfmha_bench: ptx-fmha against cuDNN's fused SDPA forward, same process, same inputs.
//
// Cases (FlashAttention-3 paper grid): prefill with 16384 tokens in total (batch = 16384 /
// seqlen) and hidden 2048 (heads = 2048 / head_dim), seqlen 512 ... 16k, head dims 64, 128,
// 256, causal (bottom-right) and not; decode with one query token, 32 query heads, 8 KV heads,
// head dim 128, batch 1 ... 64, KV length 4k ... 32k. bf16, layout [batch, seq, heads,
// head_dim], LSE on for both sides.
//
// Each case registers two Google Benchmark entries, .../cudnn first, then .../ptxfmha:
//   - before anything is timed, both run once on poisoned (NaN) outputs; ours must match
//     cuDNN's output and LSE (bench_util.h: relative L2, cosine, LSE), and each must match the
//     float64 CPU reference on sampled rows (first and last rows; GQA and the causal
//     diagonal included). A side that fails is not timed: it reports the failure instead.
//   - timing: device events around each launch, launches queued back to back (behind two
//     untimed ones when a launch is shorter than a batch) so host overhead between launches
//     stays hidden while the queue is full; the two sides' batches interleaved (cuDNN, ours,
//     ours, cuDNN, ...) so both run at the same board clocks, which fall under sustained
//     load; SM clock, power and throttle reasons sampled (NVML) during every batch;
//     inputs rotated over enough copies to exceed twice the L2 size when one set is smaller;
//     warm-up; median over all timed launches (the Google Benchmark time is their mean).
//   - counters: TFLOPS (prefill: 4*B*H*Sq*Sk*D, halved for causal) or GBps (decode: bytes of
//     K and V read plus Q and O), median_us, sm_mhz and watts (means), and on ours
//     vs_cudnn = cuDNN median / our median
//     (> 1: ptx-fmha is faster).
// Missing cuDNN, a shape cuDNN refuses, or a head dim without a ptx-fmha kernel: that entry
// says so (error_message in the JSON) and the other side is still timed.
//
// Own flags (after Google Benchmark's; --benchmark_format=json etc. work as usual):
//   --ptxfmha_suite=all|prefill|decode   --ptxfmha_quick (a small subset)
//   --ptxfmha_head_dims=64,128,256       --ptxfmha_seqlens=512,1024,...
//   --ptxfmha_samples=N (timed batches per entry, default 20)
//   --ptxfmha_batch_ms=T (length of a timed batch, default 5 ms)
//   --ptxfmha_ref_rows=N (sampled reference rows per block, default 8)
//   --ptxfmha_table=FILE (also write the final comparison table there)   --ptxfmha_list
//   --ptxfmha_fwd_kernel=NAME (forward cases of NAME's head dim run that kernel-table row, e.g.
//     a comparison variant, through fwd_with_row; other head dims keep their default kernel)
// Environment: PTXFMHA_BENCH_PERTURB_SCALE=f multiplies ptx-fmha's softmax scale by f in this
// binary only, to show the correctness gate refusing a wrong kernel. PTXFMHA_CUDNN_LIB: see
// cudnn_sdpa.h.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_util.h"
#include "cudnn_sdpa.h"
#include "gpu_monitor.h"
#include "driver.h"
#include "fwd.h"
#include "kernel_table.h"
#include "ptxfmha/ptxfmha.h"
#include "runtime.h"

namespace pb = ptxfmha_bench;
using ptxfmha::KernelKind;

// The decode entry points are part of the frozen C ABI but are written after the forward path.
// Weak references let this binary link against a library that does not define them yet and
// report decode as absent; bench.mk links libptxfmha.a whole (--whole-archive), so wherever
// they are defined they are linked in and these pointers are non-null.
extern "C" ptxfmha_status ptxfmha_decode(const ptxfmha_decode_params* params) __attribute__((weak));
extern "C" ptxfmha_status ptxfmha_decode_workspace_size(const ptxfmha_decode_params* params,
                                                       uint64_t* bytes) __attribute__((weak));

namespace {

// ---- options ------------------------------------------------------------------------------
struct Options {
  std::string suite = "all";
  bool quick = false;
  bool list = false;
  int samples = 20;
  double batch_ms = 5.0;
  int ref_rows = 8;
  std::vector<int> head_dims = {64, 128, 256};
  std::vector<int> seqlens = {512, 1024, 2048, 4096, 8192, 16384};
  std::string table_path;
  std::string fwd_kernel;  // "" = ptxfmha_fwd's own choice
  double perturb_scale = 1.0;
};
Options g_opt;

std::vector<int> parse_int_list(const std::string& s, const char* flag) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v <= 0 || v > (1 << 24)) {
      std::fprintf(stderr, "ptxfmha_bench: %s: '%s' is not a positive integer\n", flag, item.c_str());
      std::exit(2);
    }
    out.push_back(static_cast<int>(v));
  }
  if (out.empty()) {
    std::fprintf(stderr, "ptxfmha_bench: %s needs at least one value\n", flag);
    std::exit(2);
  }
  return out;
}

bool starts_with(const char* s, const char* prefix, const char** value) {
  size_t n = std::strlen(prefix);
  if (std::strncmp(s, prefix, n) != 0) return false;
  *value = s + n;
  return true;
}

void parse_options(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = nullptr;
    if (starts_with(a, "--ptxfmha_suite=", &v)) {
      g_opt.suite = v;
      if (g_opt.suite != "all" && g_opt.suite != "prefill" && g_opt.suite != "decode") {
        std::fprintf(stderr, "ptxfmha_bench: --ptxfmha_suite must be all, prefill or decode\n");
        std::exit(2);
      }
    } else if (std::strcmp(a, "--ptxfmha_quick") == 0) {
      g_opt.quick = true;
    } else if (std::strcmp(a, "--ptxfmha_list") == 0) {
      g_opt.list = true;
    } else if (starts_with(a, "--ptxfmha_samples=", &v)) {
      g_opt.samples = parse_int_list(v, "--ptxfmha_samples").at(0);
    } else if (starts_with(a, "--ptxfmha_batch_ms=", &v)) {
      g_opt.batch_ms = std::atof(v);
      if (!(g_opt.batch_ms > 0)) {
        std::fprintf(stderr, "ptxfmha_bench: --ptxfmha_batch_ms must be > 0\n");
        std::exit(2);
      }
    } else if (starts_with(a, "--ptxfmha_ref_rows=", &v)) {
      g_opt.ref_rows = parse_int_list(v, "--ptxfmha_ref_rows").at(0);
    } else if (starts_with(a, "--ptxfmha_head_dims=", &v)) {
      g_opt.head_dims = parse_int_list(v, "--ptxfmha_head_dims");
    } else if (starts_with(a, "--ptxfmha_seqlens=", &v)) {
      g_opt.seqlens = parse_int_list(v, "--ptxfmha_seqlens");
    } else if (starts_with(a, "--ptxfmha_table=", &v)) {
      g_opt.table_path = v;
    } else if (starts_with(a, "--ptxfmha_fwd_kernel=", &v)) {
      g_opt.fwd_kernel = v;
    } else {
      std::fprintf(stderr, "ptxfmha_bench: unknown argument '%s'\n", a);
      std::exit(2);
    }
  }
  if (!g_opt.fwd_kernel.empty()) {
    if (pb::forward_row_named(g_opt.fwd_kernel) == nullptr) {
      std::fprintf(stderr, "ptxfmha_bench: --ptxfmha_fwd_kernel: no forward kernel named '%s'\n",
                   g_opt.fwd_kernel.c_str());
      std::exit(2);
    }
  }
  if (const char* p = std::getenv("PTXFMHA_BENCH_PERTURB_SCALE")) {
    g_opt.perturb_scale = std::atof(p);
    if (!(g_opt.perturb_scale > 0)) {
      std::fprintf(stderr, "ptxfmha_bench: PTXFMHA_BENCH_PERTURB_SCALE='%s' must be > 0\n", p);
      std::exit(2);
    }
  }
}

// ---- cases ----------------------------------------------------------------------------------
constexpr int kTotalTokens = 16384;
constexpr int kHidden = 2048;

struct Case {
  bool decode = false;
  int64_t batch = 0, seqlen_q = 0, seqlen_k = 0, heads_q = 0, heads_kv = 0, head_dim = 0;
  bool causal = false;
  std::string name;   // Google Benchmark name prefix, e.g. "fwd/d128/causal/s4096/b4h16"
  std::string shape;  // for the table

  int64_t q_elems() const { return batch * seqlen_q * heads_q * head_dim; }
  int64_t kv_elems() const { return batch * seqlen_k * heads_kv * head_dim; }
  int64_t lse_elems() const { return batch * heads_q * seqlen_q; }
  double flops() const {
    double f = 4.0 * batch * heads_q * double(seqlen_q) * double(seqlen_k) * head_dim;
    return causal ? f / 2 : f;
  }
  double bytes() const { return 2.0 * (2 * q_elems() + 2 * kv_elems()); }
  // Bytes one launch touches in device memory (inputs + outputs + LSE).
  double set_bytes() const { return bytes() + 4.0 * lse_elems(); }
};

std::vector<Case> make_cases() {
  std::vector<Case> cases;
  const bool prefill = g_opt.suite != "decode", decode = g_opt.suite != "prefill";
  std::vector<int> seqlens = g_opt.seqlens, dims = g_opt.head_dims;
  if (g_opt.quick) {
    seqlens = {1024, 4096};
  }
  if (prefill) {
    for (int d : dims) {
      for (int causal = 0; causal < 2; ++causal) {
        for (int s : seqlens) {
          Case c;
          c.batch = std::max(1, kTotalTokens / s);
          c.seqlen_q = c.seqlen_k = s;
          c.heads_q = c.heads_kv = std::max(1, kHidden / d);
          c.head_dim = d;
          c.causal = causal != 0;
          char buf[160];
          std::snprintf(buf, sizeof buf, "fwd/d%d/%s/s%d/b%lldh%lld", d,
                        c.causal ? "causal" : "noncausal", s, (long long)c.batch,
                        (long long)c.heads_q);
          c.name = buf;
          std::snprintf(buf, sizeof buf, "fwd d=%d %-9s s=%-5d b=%-2lld h=%lld", d,
                        c.causal ? "causal" : "noncausal", s, (long long)c.batch,
                        (long long)c.heads_q);
          c.shape = buf;
          cases.push_back(c);
        }
      }
    }
  }
  if (decode) {
    std::vector<int> batches = {1, 8, 32, 64}, kvlens = {4096, 8192, 32768};
    if (g_opt.quick) {
      batches = {8};
      kvlens = {8192};
    }
    for (int b : batches) {
      for (int l : kvlens) {
        Case c;
        c.decode = true;
        c.batch = b;
        c.seqlen_q = 1;
        c.seqlen_k = l;
        c.heads_q = 32;
        c.heads_kv = 8;
        c.head_dim = 128;
        c.causal = false;
        char buf[160];
        std::snprintf(buf, sizeof buf, "decode/d128/b%d/kv%d/hq32hkv8", b, l);
        c.name = buf;
        std::snprintf(buf, sizeof buf, "decode d=128 b=%-2d kv=%-5d hq=32 hkv=8", b, l);
        c.shape = buf;
        cases.push_back(c);
      }
    }
  }
  return cases;
}

// ---- device state -----------------------------------------------------------------------------
ptxfmha::DeviceInfo g_dev;
CUstream g_stream = nullptr;
std::size_t g_l2_bytes = 0;
std::string g_device_name;
std::string g_fatal;  // set once the CUDA context is unusable; every later entry reports it

// One arena per suite: every case views a dense prefix (or, rotating, several disjoint slices)
// of the same random Q/K/V, so all cases of a suite see identical data without refilling.
struct Arena {
  bool ready = false;
  int64_t q_elems = 0, kv_elems = 0, o_elems = 0, lse_elems = 0;  // capacity per buffer
  pb::DeviceBuffer q, k, v, o_ours, o_cudnn, lse_ours, lse_cudnn;
};
Arena g_prefill, g_decode;

Arena& arena_for(const Case& c) { return c.decode ? g_decode : g_prefill; }

constexpr int kMaxSets = 64;

void size_arenas(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    Arena& a = arena_for(c);
    a.kv_elems = std::max(a.kv_elems, c.kv_elems());
    // Decode problems are small except for K/V: give Q/O/LSE room for kMaxSets rotations.
    int64_t rot = c.decode ? kMaxSets : 1;
    a.q_elems = std::max(a.q_elems, c.q_elems() * rot);
    a.o_elems = std::max(a.o_elems, c.q_elems() * rot);
    a.lse_elems = std::max(a.lse_elems, c.lse_elems() * rot);
  }
}

void ensure_arena(const Case& c) {
  Arena& a = arena_for(c);
  if (a.ready) return;
  std::fprintf(stderr, "  allocating and filling %s inputs (%.2f GiB) ...\n",
               c.decode ? "decode" : "prefill",
               (2.0 * (a.q_elems + 2 * a.kv_elems + 2 * a.o_elems) + 8.0 * a.lse_elems) /
                   (1 << 30));
  a.q.alloc(a.q_elems * 2);
  a.k.alloc(a.kv_elems * 2);
  a.v.alloc(a.kv_elems * 2);
  a.o_ours.alloc(a.o_elems * 2);
  a.o_cudnn.alloc(a.o_elems * 2);
  a.lse_ours.alloc(a.lse_elems * 4);
  a.lse_cudnn.alloc(a.lse_elems * 4);
  const uint64_t base = c.decode ? 0xdec0de : 0x5eed;
  pb::upload_random_bf16(a.q.ptr(), a.q_elems, base + 1);
  pb::upload_random_bf16(a.k.ptr(), a.kv_elems, base + 2);
  pb::upload_random_bf16(a.v.ptr(), a.kv_elems, base + 3);
  a.ready = true;
}

// ---- per-case state -----------------------------------------------------------------------------
struct SideTiming {
  int reps = 0, fillers = 0;
  std::vector<double> times;        // every timed launch, ms
  std::vector<double> batch_means;  // per timed batch, ms
  pb::GpuSampleStats gpu;           // clocks while its batches ran
  std::string error;                // why timing stopped ("" = complete)
  double median_ms = NAN;           // median of `times` (NAN: nothing timed)
};
struct CaseState {
  bool prepared = false;
  std::string prepare_error;  // setup failed: both entries report it
  int nsets = 1;
  // ptx-fmha
  const ptxfmha::KernelInfo* kernel = nullptr;
  bool kernel_forced = false;   // --ptxfmha_fwd_kernel: launched through fwd_with_row
  std::string ours_skip;      // why ours is not timed ("" = timed)
  std::string ours_check;     // agreement summary
  pb::DeviceBuffer ours_ws;   // decode workspace per set (ptxfmha_decode_workspace_size)
  std::size_t ours_ws_bytes = 0;
  // cuDNN
  std::unique_ptr<pb::CudnnSdpa> cudnn;
  pb::DeviceBuffer cudnn_ws;
  std::string cudnn_skip;
  std::string cudnn_check;
  std::string cudnn_plan;
  // results: timing[0] cuDNN, timing[1] ours, measured together (measure_case); the table
  // and vs_cudnn read their median_ms
  bool measured = false;
  SideTiming timing[2];
};
std::map<std::string, CaseState> g_states;

// Pointers of rotation set `s`.
struct SetPtrs {
  void* q; void* k; void* v; void* o; float* lse;
};
SetPtrs set_ptrs(const Case& c, int s, bool ours) {
  Arena& a = arena_for(c);
  SetPtrs p;
  p.q = a.q.get(std::size_t(s) * c.q_elems() * 2);
  p.k = a.k.get(std::size_t(s) * c.kv_elems() * 2);
  p.v = a.v.get(std::size_t(s) * c.kv_elems() * 2);
  p.o = (ours ? a.o_ours : a.o_cudnn).get(std::size_t(s) * c.q_elems() * 2);
  p.lse = static_cast<float*>((ours ? a.lse_ours : a.lse_cudnn).get(std::size_t(s) * c.lse_elems() * 4));
  return p;
}

float softmax_scale(const Case& c) { return 1.0f / std::sqrt(static_cast<float>(c.head_dim)); }

// One ptx-fmha launch on set s. Returns "" or the error.
std::string launch_ours(const Case& c, CaseState& cs, int s) {
  SetPtrs p = set_ptrs(c, s, true);
  int64_t st[3];
  pb::dense_strides(c.seqlen_q, c.heads_q, c.head_dim, st);
  int64_t kst[3];
  pb::dense_strides(c.seqlen_k, c.heads_kv, c.head_dim, kst);
  const float scale = softmax_scale(c) * static_cast<float>(g_opt.perturb_scale);
  ptxfmha_status status;
  if (!c.decode) {
    ptxfmha_fwd_params f{};
    f.q = p.q; f.k = p.k; f.v = p.v; f.o = p.o; f.lse = p.lse;
    f.q_batch_stride = st[0]; f.q_seq_stride = st[1]; f.q_head_stride = st[2];
    f.o_batch_stride = st[0]; f.o_seq_stride = st[1]; f.o_head_stride = st[2];
    f.k_batch_stride = kst[0]; f.k_seq_stride = kst[1]; f.k_head_stride = kst[2];
    f.v_batch_stride = kst[0]; f.v_seq_stride = kst[1]; f.v_head_stride = kst[2];
    f.batch = int32_t(c.batch); f.seqlen_q = int32_t(c.seqlen_q); f.seqlen_k = int32_t(c.seqlen_k);
    f.heads_q = int32_t(c.heads_q); f.heads_kv = int32_t(c.heads_kv); f.head_dim = int32_t(c.head_dim);
    f.softmax_scale = scale;
    f.causal = c.causal ? 1 : 0;
    f.stream = g_stream;
    status = cs.kernel_forced ? ptxfmha::fwd_with_row(&f, cs.kernel) : ptxfmha_fwd(&f);
  } else {
    ptxfmha_decode_params d{};
    d.q = p.q; d.k_cache = p.k; d.v_cache = p.v; d.o = p.o; d.lse = p.lse;
    d.q_batch_stride = st[0]; d.q_seq_stride = st[1]; d.q_head_stride = st[2];
    d.o_batch_stride = st[0]; d.o_seq_stride = st[1]; d.o_head_stride = st[2];
    d.k_batch_stride = kst[0]; d.k_seq_stride = kst[1]; d.k_head_stride = kst[2];
    d.v_batch_stride = kst[0]; d.v_seq_stride = kst[1]; d.v_head_stride = kst[2];
    d.batch = int32_t(c.batch); d.seqlen_q = int32_t(c.seqlen_q);
    d.max_seqlen_k = int32_t(c.seqlen_k);
    d.heads_q = int32_t(c.heads_q); d.heads_kv = int32_t(c.heads_kv);
    d.head_dim = int32_t(c.head_dim);
    d.softmax_scale = scale;
    d.causal = 0;
    d.num_splits = 0;
    d.workspace = cs.ours_ws_bytes ? cs.ours_ws.get(std::size_t(s) * cs.ours_ws_bytes) : nullptr;
    d.workspace_bytes = cs.ours_ws_bytes;
    d.stream = g_stream;
    status = ptxfmha_decode(&d);
  }
  if (status != PTXFMHA_OK) {
    return std::string(c.decode ? "ptxfmha_decode: " : "ptxfmha_fwd: ") +
           ptxfmha_status_string(status) + ": " + ptxfmha_last_error();
  }
  return "";
}

std::string launch_cudnn(const Case& c, CaseState& cs, int s) {
  SetPtrs p = set_ptrs(c, s, false);
  std::string why;
  if (!cs.cudnn->run(p.q, p.k, p.v, p.o, p.lse, cs.cudnn_ws.bytes() ? cs.cudnn_ws.get() : nullptr, &why))
    return why;
  return "";
}

// Synchronizes and turns an asynchronous fault into g_fatal (the context is gone after it).
std::string sync_stream(const char* after) {
  CUresult r = ptxfmha::drv().cuStreamSynchronize(g_stream);
  if (r != CUDA_SUCCESS) {
    g_fatal = ptxfmha::cu_error_message(r, "cuStreamSynchronize") + std::string(" after ") + after +
              " (CUDA context unusable; later cases are not run)";
    return g_fatal;
  }
  return "";
}

// ---- sampled float64 reference -----------------------------------------------------------------
// Two blocks of rows: the first `m` query rows of batch 0 (against the keys they can see) and
// the last `m` rows of the last batch (against all keys). With bottom-right alignment a block
// of rows [r0, r0+m) over keys [0, kn) is itself an attention problem with seqlen_q = m and
// seqlen_k = kn whose mask is the same, so the shared reference computes it directly.
struct RefBlock {
  int64_t b, r0, m, kn;
};

std::vector<RefBlock> ref_blocks(const Case& c) {
  int64_t m = std::min<int64_t>(g_opt.ref_rows, c.seqlen_q);
  std::vector<RefBlock> blocks;
  int64_t kn_first = c.causal ? std::min(c.seqlen_k, m + c.seqlen_k - c.seqlen_q) : c.seqlen_k;
  blocks.push_back({0, 0, m, std::max<int64_t>(kn_first, 0)});
  if (c.batch > 1 || c.seqlen_q > m) blocks.push_back({c.batch - 1, c.seqlen_q - m, m, c.seqlen_k});
  return blocks;
}

// Checks the O/LSE of set 0 of one side against the float64 reference on the sampled rows.
pb::Agreement check_against_reference(const Case& c, bool ours) {
  Arena& a = arena_for(c);
  const int64_t H = c.heads_q, D = c.head_dim, Hkv = c.heads_kv;
  pb::Agreement total;
  std::vector<double> got_all, ref_all, lse_ref_all;
  std::vector<float> lse_got_all;
  for (const RefBlock& blk : ref_blocks(c)) {
    std::vector<uint16_t> q(blk.m * H * D), k(std::max<int64_t>(blk.kn, 1) * Hkv * D),
        v(k.size()), o(blk.m * H * D);
    const std::size_t qoff = std::size_t((blk.b * c.seqlen_q + blk.r0) * H * D) * 2;
    const std::size_t koff = std::size_t(blk.b * c.seqlen_k * Hkv * D) * 2;
    pb::download(q.data(), a.q.ptr() + qoff, q.size() * 2);
    if (blk.kn > 0) {
      pb::download(k.data(), a.k.ptr() + koff, blk.kn * Hkv * D * 2);
      pb::download(v.data(), a.v.ptr() + koff, blk.kn * Hkv * D * 2);
    }
    pb::download(o.data(), (ours ? a.o_ours : a.o_cudnn).ptr() + qoff, o.size() * 2);
    pb::RefProblem rp{1, blk.m, blk.kn, c.heads_q, c.heads_kv, c.head_dim, c.causal,
                      double(softmax_scale(c))};
    std::vector<double> ref_out, ref_lse;
    if (blk.kn > 0) {
      pb::reference_dense(rp, q.data(), k.data(), v.data(), &ref_out, &ref_lse);
    } else {  // no key visible: O = 0, LSE = -inf
      ref_out.assign(o.size(), 0.0);
      ref_lse.assign(std::size_t(H * blk.m), -INFINITY);
    }
    for (std::size_t i = 0; i < o.size(); ++i) {
      got_all.push_back(pb::float_from_bf16(o[i]));
      ref_all.push_back(ref_out[i]);
    }
    std::vector<float> lse_rows(blk.m);
    for (int64_t h = 0; h < H; ++h) {
      const std::size_t off = std::size_t(((blk.b * H + h) * c.seqlen_q + blk.r0)) * 4;
      pb::download(lse_rows.data(), (ours ? a.lse_ours : a.lse_cudnn).ptr() + off, blk.m * 4);
      for (int64_t i = 0; i < blk.m; ++i) {
        lse_got_all.push_back(lse_rows[i]);
        lse_ref_all.push_back(ref_lse[h * blk.m + i]);
      }
    }
  }
  total = pb::compare_double(got_all.data(), ref_all.data(), got_all.size());
  pb::compare_lse(lse_got_all.data(), lse_ref_all.data(), lse_got_all.size(), &total);
  return total;
}

// ---- preparation: availability, cuDNN graph, correctness gate -----------------------------------
void poison_set0(const Case& c) {
  const auto& d = ptxfmha::drv();
  Arena& a = arena_for(c);
  // 0xFFFF is a bf16 NaN, 0xFFFFFFFF an fp32 NaN: anything left unwritten fails the check.
  // On g_stream, in order with the launches: g_stream does not wait for the legacy stream
  // (CU_STREAM_NON_BLOCKING), and cuMemsetD32 there once ran after most of a persistent
  // kernel's LSE stores (its memset kernel got SMs only when the kernel's CTAs left), so the
  // gate saw ~95% of the LSE rows "unwritten" (H100, 2026-11-25).
  pb::cu_check(d.cuMemsetD16Async(a.o_ours.ptr(), 0xFFFF, c.q_elems(), g_stream), "cuMemsetD16Async");
  pb::cu_check(d.cuMemsetD16Async(a.o_cudnn.ptr(), 0xFFFF, c.q_elems(), g_stream), "cuMemsetD16Async");
  pb::cu_check(d.cuMemsetD32Async(a.lse_ours.ptr(), 0xFFFFFFFFu, c.lse_elems(), g_stream), "cuMemsetD32Async");
  pb::cu_check(d.cuMemsetD32Async(a.lse_cudnn.ptr(), 0xFFFFFFFFu, c.lse_elems(), g_stream), "cuMemsetD32Async");
}

void prepare(const Case& c, CaseState& cs, int index, int total) {
  cs.prepared = true;
  std::fprintf(stderr, "[%d/%d] %s: preparing\n", index, total, c.name.c_str());
  ensure_arena(c);
  Arena& a = arena_for(c);

  // Rotation: enough disjoint input sets to exceed twice the L2 size, within the arena.
  int want = int(std::ceil(2.0 * double(g_l2_bytes) / c.set_bytes()));
  int64_t fit = std::min({a.q_elems / c.q_elems(), a.kv_elems / c.kv_elems(),
                          a.o_elems / c.q_elems(), a.lse_elems / c.lse_elems(), int64_t(kMaxSets)});
  cs.nsets = int(std::max<int64_t>(1, std::min<int64_t>(want, fit)));

  // ptx-fmha: is there a kernel for this head dim on this device?
  cs.kernel = ptxfmha::find_kernel(g_dev.sm, c.decode ? KernelKind::Decode : KernelKind::Fwd,
                                   int(c.head_dim));
  if (!c.decode && !g_opt.fwd_kernel.empty()) {
    const ptxfmha::KernelInfo* r = pb::forward_row_named(g_opt.fwd_kernel);
    if (r != nullptr && r->head_dim == c.head_dim && cs.kernel != nullptr &&
        std::strcmp(r->arch, cs.kernel->arch) == 0) {
      cs.kernel = r;
      cs.kernel_forced = true;
    }
  }
  if (!cs.kernel) {
    cs.ours_skip = std::string("no ptx-fmha ") + (c.decode ? "decode" : "forward") +
                   " kernel for head_dim " + std::to_string(c.head_dim) + " on " +
                   (g_dev.arch ? g_dev.arch : "this device") + " (head dims with kernels: " +
                   ptxfmha::head_dims_string(ptxfmha::supported_head_dims(
                       g_dev.sm, c.decode ? KernelKind::Decode : KernelKind::Fwd)) +
                   ")";
  }
  if (cs.kernel && c.decode && (ptxfmha_decode == nullptr || ptxfmha_decode_workspace_size == nullptr)) {
    cs.ours_skip = "libptxfmha has a decode kernel row but no ptxfmha_decode entry point yet";
  }
  if (cs.ours_skip.empty() && cs.kernel && c.decode) {
    // Workspace for split-KV partials, one per rotation set.
    ptxfmha_decode_params d{};
    int64_t st[3], kst[3];
    pb::dense_strides(1, c.heads_q, c.head_dim, st);
    pb::dense_strides(c.seqlen_k, c.heads_kv, c.head_dim, kst);
    SetPtrs p = set_ptrs(c, 0, true);
    d.q = p.q; d.k_cache = p.k; d.v_cache = p.v; d.o = p.o; d.lse = p.lse;
    d.q_batch_stride = st[0]; d.q_seq_stride = st[1]; d.q_head_stride = st[2];
    d.o_batch_stride = st[0]; d.o_seq_stride = st[1]; d.o_head_stride = st[2];
    d.k_batch_stride = kst[0]; d.k_seq_stride = kst[1]; d.k_head_stride = kst[2];
    d.v_batch_stride = kst[0]; d.v_seq_stride = kst[1]; d.v_head_stride = kst[2];
    d.batch = int32_t(c.batch); d.seqlen_q = 1; d.max_seqlen_k = int32_t(c.seqlen_k);
    d.heads_q = int32_t(c.heads_q); d.heads_kv = int32_t(c.heads_kv); d.head_dim = int32_t(c.head_dim);
    d.softmax_scale = softmax_scale(c);
    uint64_t ws = 0;
    ptxfmha_status st_ws = ptxfmha_decode_workspace_size(&d, &ws);
    if (st_ws != PTXFMHA_OK) {
      cs.ours_skip = std::string("ptxfmha_decode_workspace_size: ") + ptxfmha_status_string(st_ws) +
                     ": " + ptxfmha_last_error();
    } else if (ws) {
      cs.ours_ws_bytes = (ws + 255) & ~uint64_t(255);
      cs.ours_ws.alloc(cs.ours_ws_bytes * cs.nsets);
    }
  }

  // cuDNN graph.
  pb::SdpaProblem sp;
  sp.batch = c.batch; sp.seqlen_q = c.seqlen_q; sp.seqlen_k = c.seqlen_k;
  sp.heads_q = c.heads_q; sp.heads_kv = c.heads_kv; sp.head_dim = c.head_dim;
  pb::dense_strides(c.seqlen_q, c.heads_q, c.head_dim, sp.q_stride);
  pb::dense_strides(c.seqlen_k, c.heads_kv, c.head_dim, sp.k_stride);
  pb::dense_strides(c.seqlen_k, c.heads_kv, c.head_dim, sp.v_stride);
  pb::dense_strides(c.seqlen_q, c.heads_q, c.head_dim, sp.o_stride);
  sp.softmax_scale = softmax_scale(c);
  sp.causal = c.causal;
  sp.lse = true;
  cs.cudnn = std::make_unique<pb::CudnnSdpa>();
  std::string why;
  if (!cs.cudnn->build(sp, g_stream, &why)) {
    cs.cudnn_skip = "cuDNN unavailable for this case: " + why;
  } else {
    cs.cudnn_plan = cs.cudnn->plan_name();
    if (cs.cudnn->workspace_bytes()) cs.cudnn_ws.alloc(cs.cudnn->workspace_bytes());
  }

  // Correctness gate, on set 0 with poisoned outputs.
  poison_set0(c);
  bool ours_ran = false, cudnn_ran = false;
  if (cs.ours_skip.empty()) {
    std::string e = launch_ours(c, cs, 0);
    if (e.empty()) e = sync_stream("the ptx-fmha check launch");
    if (!e.empty()) cs.ours_skip = "ptx-fmha failed: " + e;
    else ours_ran = true;
  }
  if (cs.cudnn_skip.empty() && g_fatal.empty()) {
    std::string e = launch_cudnn(c, cs, 0);
    if (e.empty()) e = sync_stream("the cuDNN check launch");
    if (!e.empty()) cs.cudnn_skip = "cuDNN failed: " + e;
    else cudnn_ran = true;
  }
  if (!g_fatal.empty()) return;

  if (cudnn_ran) {
    pb::Agreement ref = check_against_reference(c, false);
    cs.cudnn_check = "vs f64 " + ref.summary();
    if (!ref.ok())
      cs.cudnn_skip = "cuDNN output disagrees with the float64 reference (" + ref.failure() +
                      "; " + ref.summary() + "): the harness or cuDNN is wrong; not timed";
  }
  if (ours_ran) {
    std::string fails;
    if (cudnn_ran) {
      std::vector<uint16_t> o1(c.q_elems()), o2(c.q_elems());
      std::vector<float> l1(c.lse_elems()), l2(c.lse_elems());
      pb::download(o1.data(), a.o_ours.ptr(), o1.size() * 2);
      pb::download(o2.data(), a.o_cudnn.ptr(), o2.size() * 2);
      pb::download(l1.data(), a.lse_ours.ptr(), l1.size() * 4);
      pb::download(l2.data(), a.lse_cudnn.ptr(), l2.size() * 4);
      pb::Agreement ag = pb::compare_bf16(o1.data(), o2.data(), o1.size());
      pb::compare_lse(l1.data(), l2.data(), l1.size(), &ag);
      cs.ours_check = "vs cuDNN " + ag.summary();
      if (!ag.ok()) fails += "vs cuDNN: " + ag.failure() + " (" + ag.summary() + ")";
    }
    pb::Agreement ref = check_against_reference(c, true);
    if (!cs.ours_check.empty()) cs.ours_check += "; ";
    cs.ours_check += "vs f64 " + ref.summary();
    if (!ref.ok()) {
      if (!fails.empty()) fails += "; ";
      fails += "vs float64 reference: " + ref.failure() + " (" + ref.summary() + ")";
    }
    if (!fails.empty()) cs.ours_skip = "CHECK FAILED, not timed: " + fails;
  }
  std::fprintf(stderr, "[%d/%d] %s: ptx-fmha %s | cuDNN %s\n", index, total, c.name.c_str(),
               cs.ours_skip.empty() ? ("ok, " + cs.ours_check).c_str() : cs.ours_skip.c_str(),
               cs.cudnn_skip.empty() ? ("ok, " + cs.cudnn_check).c_str() : cs.cudnn_skip.c_str());
}

// ---- timing ------------------------------------------------------------------------------------
pb::EventPairs g_events;
pb::GpuMonitor g_monitor;

// Warm-up and the launches per batch of one side: returns "" or an error.
template <class One>
std::string warm_up(const Case& c, One one, int* reps, int* fillers) {
  // Warm-up (clocks, module load, cuDNN's first-run work), then a single-launch estimate: a
  // filler launch keeps the queue busy so the timed one does not wait on the host. Up to 3
  // estimates; one is enough for a launch longer than a batch.
  std::string e = one();
  if (e.empty()) e = sync_stream(c.name.c_str());
  if (!e.empty()) return e;
  g_events.resize(4);
  std::vector<double> est;
  for (int i = 0; i < 3 && e.empty(); ++i) {
    e = one();
    g_events.record_start(i, g_stream);
    if (e.empty()) e = one();
    g_events.record_end(i, g_stream);
    if (e.empty()) e = sync_stream(c.name.c_str());
    if (e.empty()) est.push_back(g_events.elapsed_ms(i));
    if (e.empty() && est.back() >= g_opt.batch_ms) break;
  }
  if (!e.empty()) return e;
  const double t_est = std::max(1e-3, pb::median(est));
  *reps = int(std::clamp(std::ceil(g_opt.batch_ms / t_est), 1.0, 2000.0));
  // Untimed launches ahead of each batch hide the host's launch latency behind GPU work; a
  // launch longer than a batch dwarfs that latency, so slow kernels skip them (and the run
  // stays short when a kernel is very slow).
  *fillers = t_est < g_opt.batch_ms ? 2 : 0;
  return "";
}

// Times both sides of a case, their batches interleaved (cuDNN, ours, ours, cuDNN, ...): the
// board's clock falls as it heats and draws power, so two sides timed one after the other
// would each see a different clock; interleaved, both see the same conditions. The SM
// clock, power and throttle reasons are sampled while each batch runs.
void measure_case(const Case& c, CaseState& cs) {
  cs.measured = true;
  bool run[2] = {cs.cudnn_skip.empty() && cs.cudnn != nullptr, cs.ours_skip.empty()};
  int next_set[2] = {0, 0};
  auto one = [&](int side) {
    const int s = next_set[side];
    next_set[side] = (next_set[side] + 1) % cs.nsets;
    return side == 1 ? launch_ours(c, cs, s) : launch_cudnn(c, cs, s);
  };
  for (int side = 0; side < 2; ++side) {
    if (!run[side]) continue;
    SideTiming& t = cs.timing[side];
    try {
      t.error = warm_up(c, [&] { return one(side); }, &t.reps, &t.fillers);
    } catch (const std::exception& ex) {
      t.error = ex.what();
    }
    if (!t.error.empty()) run[side] = false;
  }
  for (int i = 0; i < g_opt.samples && g_fatal.empty(); ++i) {
    for (int k = 0; k < 2; ++k) {
      const int side = (i % 2 == 0) ? k : 1 - k;  // alternate who goes first
      if (!run[side]) continue;
      SideTiming& t = cs.timing[side];
      std::string e;
      try {
        g_events.resize(t.reps);
        for (int f = 0; f < t.fillers && e.empty(); ++f) e = one(side);  // untimed
        for (int r = 0; r < t.reps && e.empty(); ++r) {
          g_events.record_start(r, g_stream);
          e = one(side);
          g_events.record_end(r, g_stream);
        }
        pb::GpuSample gs;
        if (e.empty() && g_monitor.sample(&gs)) t.gpu.add(gs);  // the batch is running
        if (e.empty()) e = sync_stream(c.name.c_str());
        if (e.empty()) {
          double sum = 0;
          for (int r = 0; r < t.reps; ++r) {
            const double ms = g_events.elapsed_ms(r);
            t.times.push_back(ms);
            sum += ms;
          }
          t.batch_means.push_back(sum / t.reps);
        }
      } catch (const std::exception& ex) {
        e = ex.what();
      }
      if (!e.empty()) {
        t.error = e;
        run[side] = false;
      }
    }
  }
  for (SideTiming& t : cs.timing)
    if (!t.times.empty()) t.median_ms = pb::median(t.times);
}

// Reports one side's measurement into its Google Benchmark entry.
void report_side(benchmark::State& state, const Case& c, const CaseState& cs,
                 const SideTiming& t) {
  std::size_t i = 0;
  for (auto _ : state) {
    if (i >= t.batch_means.size()) {
      state.SkipWithError(t.error.empty() ? "fewer timed batches than samples" : t.error.c_str());
      return;
    }
    state.SetIterationTime(t.batch_means[i++] * 1e-3);
  }
  const double med = t.median_ms;
  const double min_ms = *std::min_element(t.times.begin(), t.times.end());
  if (c.decode)
    state.counters["GBps"] = c.bytes() / (med * 1e-3) / 1e9;
  else
    state.counters["TFLOPS"] = c.flops() / (med * 1e-3) / 1e12;
  state.counters["median_us"] = med * 1e3;
  state.counters["min_us"] = min_ms * 1e3;
  state.counters["launches"] = double(t.times.size());
  state.counters["sets"] = cs.nsets;
  state.counters["reps"] = t.reps;
  if (t.gpu.n > 0) {
    state.counters["sm_mhz"] = t.gpu.mhz;
    state.counters["watts"] = t.gpu.watts;
  }
}

struct Row {
  const Case* c;
  CaseState* cs;
};
std::vector<Row> g_rows;
int g_prepared_count = 0;

CaseState& state_for(const Case& c, int total) {
  CaseState& cs = g_states[c.name];
  if (!cs.prepared && g_fatal.empty()) {
    try {
      prepare(c, cs, ++g_prepared_count, total);
    } catch (const std::exception& ex) {
      cs.prepare_error = std::string("setup failed: ") + ex.what();
    }
    g_rows.push_back({&c, &cs});
  }
  return cs;
}

void run_entry(benchmark::State& state, const Case& c, bool ours, int total) {
  if (!g_fatal.empty()) {
    state.SkipWithError(g_fatal.c_str());
    return;
  }
  CaseState& cs = state_for(c, total);
  const std::string& skip = !g_fatal.empty() ? g_fatal
                            : !cs.prepare_error.empty() ? cs.prepare_error
                            : ours ? cs.ours_skip
                                   : cs.cudnn_skip;
  if (!skip.empty()) {
    state.SkipWithError(skip.c_str());
    return;
  }
  if (!cs.measured) measure_case(c, cs);
  const SideTiming& t = cs.timing[ours ? 1 : 0];
  if (t.times.empty()) {
    state.SkipWithError(t.error.empty() ? "not timed" : t.error.c_str());
    return;
  }
  report_side(state, c, cs, t);
  if (ours) {
    if (!std::isnan(cs.timing[0].median_ms))
      state.counters["vs_cudnn"] = cs.timing[0].median_ms / t.median_ms;
    state.SetLabel((cs.kernel ? std::string(cs.kernel->name) : std::string("?")) + "; " +
                   cs.ours_check);
  } else {
    state.SetLabel("cuDNN " + pb::cudnn_library().version_string() +
                   (cs.cudnn_plan.empty() ? "" : " " + cs.cudnn_plan) + "; " + cs.cudnn_check);
  }
}

// ---- final table -------------------------------------------------------------------------------
std::string fmt_num(double v, const char* f) {
  if (std::isnan(v)) return "-";
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string short_reason(const std::string& s) {
  if (s.empty()) return "";
  return s.size() > 90 ? s.substr(0, 87) + "..." : s;
}

void print_table(FILE* f) {
  std::fprintf(f, "\nptx-fmha vs cuDNN on %s (%s), cuDNN %s; median of timed launches\n",
               g_device_name.c_str(), g_dev.arch ? g_dev.arch : "?",
               pb::cudnn_library().version_string().c_str());
  if (g_opt.perturb_scale != 1.0)
    std::fprintf(f, "PERTURBED RUN: ptx-fmha softmax scale x%g (PTXFMHA_BENCH_PERTURB_SCALE)\n",
                 g_opt.perturb_scale);
  std::fprintf(f, "%-44s %10s %10s %8s  %-6s  %-9s  %s\n", "shape", "ours", "cuDNN", "ratio",
               "unit", "MHz o/c", "notes");
  for (const Row& r : g_rows) {
    const Case& c = *r.c;
    const CaseState& cs = *r.cs;
    const double work = c.decode ? c.bytes() / 1e9 : c.flops() / 1e12;  // GB or TFLOP
    const double ours = work / (cs.timing[1].median_ms * 1e-3);
    const double cud = work / (cs.timing[0].median_ms * 1e-3);
    const double ratio = cs.timing[0].median_ms / cs.timing[1].median_ms;
    std::string notes;
    if (!cs.prepare_error.empty()) notes = short_reason(cs.prepare_error);
    else {
      if (!cs.ours_skip.empty()) notes += "ours: " + short_reason(cs.ours_skip);
      if (!cs.cudnn_skip.empty()) notes += std::string(notes.empty() ? "" : " | ") + "cuDNN: " + short_reason(cs.cudnn_skip);
    }
    const char* unit = c.decode ? "GB/s" : "TFLOPS";
    // mean SM clocks while each side's batches ran (NVML; "-" without it)
    auto mhz = [](const SideTiming& t) { return t.gpu.n ? fmt_num(t.gpu.mhz, "%.0f") : "-"; };
    const std::string clocks = mhz(cs.timing[1]) + "/" + mhz(cs.timing[0]);
    std::fprintf(f, "%-44s %10s %10s %8s  %-6s  %-9s  %s\n", c.shape.c_str(),
                 fmt_num(ours, "%.1f").c_str(), fmt_num(cud, "%.1f").c_str(),
                 fmt_num(ratio, "%.3f").c_str(), unit, clocks.c_str(), notes.c_str());
  }
  std::fprintf(f, "ratio = cuDNN time / ptx-fmha time (> 1: ptx-fmha faster); MHz o/c = mean SM "
               "clock during our / cuDNN's batches (interleaved)\n");
  unsigned long long reasons = 0;
  for (const Row& r : g_rows) reasons |= r.cs->timing[0].gpu.reasons | r.cs->timing[1].gpu.reasons;
  if (g_monitor.ok() || reasons)
    std::fprintf(f, "clock limits seen while timing: %s\n",
                 reasons ? pb::GpuMonitor::reasons_text(reasons).c_str() : "none");
  else
    std::fprintf(f, "clocks not sampled: %s\n", g_monitor.why().c_str());
  if (!g_fatal.empty()) std::fprintf(f, "STOPPED: %s\n", g_fatal.c_str());
}

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  char b[64];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress visible through pipes
  // With --benchmark_format=json (or csv) stdout is machine-readable: the table goes to stderr.
  bool table_to_stderr = false;
  for (int i = 1; i < argc; ++i) {
    const char* v = nullptr;
    if (starts_with(argv[i], "--benchmark_format=", &v) && std::strcmp(v, "console") != 0)
      table_to_stderr = true;
  }
  benchmark::Initialize(&argc, argv);
  parse_options(argc, argv);
  static std::vector<Case> cases = make_cases();

  if (g_opt.list) {
    for (const Case& c : cases) std::printf("%s\n", c.name.c_str());
    return 0;
  }

  std::string init_msg;
  ptxfmha_status st = ptxfmha::driver_init(&init_msg);
  if (st == PTXFMHA_OK) st = ptxfmha::acquire_context(&g_dev);
  if (st != PTXFMHA_OK) {
    std::fprintf(table_to_stderr ? stderr : stdout, "ptxfmha_bench: no usable GPU (%s: %s).\n"
                "Running the benchmark needs a GPU; nothing was measured.\n",
                ptxfmha_status_string(st),
                !init_msg.empty() ? init_msg.c_str() : ptxfmha_last_error());
    return 0;
  }
  const auto& d = ptxfmha::drv();
  {
    char name[256] = {0};
    d.cuDeviceGetName(name, sizeof name, g_dev.device);
    g_device_name = name;
    int l2 = 0;
    d.cuDeviceGetAttribute(&l2, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, g_dev.device);
    g_l2_bytes = std::size_t(l2);
    char bus[32] = {0};
    if (d.cuDeviceGetPCIBusId(bus, sizeof bus, g_dev.device) == CUDA_SUCCESS) g_monitor.open(bus);
  }
  try {
    pb::cu_check(d.cuStreamCreate(&g_stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "ptxfmha_bench: %s\n", ex.what());
    return 1;
  }

  const pb::CudnnLibrary& cud = pb::cudnn_library();
  benchmark::AddCustomContext("ptxfmha_version", ptxfmha_version());
  benchmark::AddCustomContext("device", g_device_name);
  benchmark::AddCustomContext("compute_capability",
                              std::to_string(g_dev.cc_major) + "." + std::to_string(g_dev.cc_minor));
  benchmark::AddCustomContext("arch", g_dev.arch ? g_dev.arch : "none");
  benchmark::AddCustomContext("sms", std::to_string(g_dev.num_sms));
  benchmark::AddCustomContext("l2_bytes", std::to_string(g_l2_bytes));
  benchmark::AddCustomContext("cuda_driver_version", std::to_string(d.driver_version));
  benchmark::AddCustomContext("cudnn_version", cud.version_string());
  benchmark::AddCustomContext("cudnn_library", cud.loaded ? cud.path : cud.why);
  benchmark::AddCustomContext("cudnn_headers_version", std::to_string(pb::cudnn_compiled_version()));
  benchmark::AddCustomContext("cudnn_frontend_version", std::to_string(pb::cudnn_frontend_version()));
  benchmark::AddCustomContext("cubin_dir", ptxfmha_get_cubin_dir());
  benchmark::AddCustomContext("run_started_utc", now_utc());
  benchmark::AddCustomContext("timing", "cuEvent pairs per launch, queue kept full, median over "
                                        "launches; inputs rotated to exceed 2x L2");
  benchmark::AddCustomContext("perturb_scale", fmt_num(g_opt.perturb_scale, "%g"));
  if (g_opt.perturb_scale != 1.0)
    std::fprintf(stderr, "PERTURBED RUN: ptx-fmha softmax scale x%g; the check must refuse it\n",
                 g_opt.perturb_scale);
  std::fprintf(stderr, "ptxfmha_bench: %s (%s, %d SMs, L2 %zu MiB), cuDNN %s%s\n",
               g_device_name.c_str(), g_dev.arch ? g_dev.arch : "no ptx-fmha kernels",
               g_dev.num_sms, g_l2_bytes >> 20, cud.version_string().c_str(),
               cud.loaded ? (" at " + cud.path).c_str() : "");

  size_arenas(cases);
  const int total = int(cases.size());
  for (const Case& c : cases) {
    for (int ours = 0; ours < 2; ++ours) {
      std::string name = c.name + (ours ? "/ptxfmha" : "/cudnn");
      benchmark::RegisterBenchmark(name.c_str(), [&c, ours, total](benchmark::State& s) {
        run_entry(s, c, ours != 0, total);
      })
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond)
          ->Iterations(g_opt.samples);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  print_table(table_to_stderr ? stderr : stdout);
  if (!g_opt.table_path.empty()) {
    if (FILE* f = std::fopen(g_opt.table_path.c_str(), "w")) {
      print_table(f);
      std::fclose(f);
    } else {
      std::fprintf(stderr, "ptxfmha_bench: cannot write %s\n", g_opt.table_path.c_str());
    }
  }
  benchmark::Shutdown();
  // Free device state while the context is alive (cuDNN handles first).
  g_states.clear();
  for (Arena* a : {&g_prefill, &g_decode})
    for (pb::DeviceBuffer* b : {&a->q, &a->k, &a->v, &a->o_ours, &a->o_cudnn, &a->lse_ours, &a->lse_cudnn})
      b->release();
  return g_fatal.empty() ? 0 : 1;
}
