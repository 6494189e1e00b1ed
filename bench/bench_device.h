// The benchmark's device side: the CUDA context and stream, the input arenas every case views,
// the per-case state (what was prepared, checked and measured), and the pointers one launch
// of one side works on (SetView).
#pragma once

#include <cuda.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_case.h"
#include "bench_stats.h"
#include "bench_util.h"
#include "cudnn_sdpa.h"
#include "gpu_monitor.h"
#include "read_probe.h"
#include "runtime.h"

namespace ptxfmha_bench {

// ---- process-wide device state ------------------------------------------------------------------
extern ptxfmha::DeviceInfo g_dev;
extern CUstream g_stream;
extern std::size_t g_l2_bytes;
extern std::string g_device_name;
extern std::string g_fatal;  // set once the CUDA context is unusable; every later entry reports it
extern EventPairs g_events;
extern GpuMonitor g_monitor;
extern MemoryPlan g_memory;  // arena sizes and the cases that do not fit

// Synchronises g_stream; an asynchronous fault becomes g_fatal (the context is gone after it).
std::string sync_stream(const char* after);

// ---- arenas: one per family, every case of it views a prefix or rotates over slices ----------
struct Arena {
  bool ready = false;
  ArenaSize cap;  // elements per buffer
  DeviceBuffer q, k, v, o_ours, o_cudnn, lse_ours, lse_cudnn;
  // Backward families (cap.grad_*): dO (random, an input) and each side's dQ, dK, dV. O and
  // LSE are then inputs too: the forward's, in o_ours / lse_ours (bench/family_bwd.cpp).
  DeviceBuffer dout, dq_ours, dq_cudnn, dk_ours, dk_cudnn, dv_ours, dv_cudnn;
};
Arena& arena_for(const Case& c);
// Allocates and fills the case's family arena on first use (random N(0,1) bf16 inputs).
void ensure_arena(const Case& c);
void release_arenas();

// ---- per-case state ------------------------------------------------------------------------------
enum Side { kCudnn = 0, kOurs = 1, kCeiling = 2, kNumSides = 3 };
const char* side_name(int side);  // "cuDNN", "ptx-fmha", "read ceiling"

// One side timed with one method.
struct MethodTiming {
  int reps = 0, fillers = 0;
  std::vector<double> samples;      // ms per launch: every launch (PerLaunch), every batch (BackToBack)
  std::vector<double> batch_means;  // ms per launch, per timed batch (Google Benchmark's iterations)
  GpuSampleStats gpu;               // clocks while its batches ran
  std::string error;                // why timing stopped ("" = complete)
  SeriesStats stats;                // of `samples` (median_ms NAN: nothing timed)
};

// ptx-fmha's launch plan for a case (bench_family.h fills it).
struct OursPlan {
  const ptxfmha::KernelInfo* kernel = nullptr;
  bool forced = false;          // a variant row: --ptxfmha_fwd_kernel (fwd_with_row), --ptxfmha_bwd_kernel (bwd_with_main_row)
  uint64_t ws_bytes = 0;        // library workspace per rotation set
  // Decode: the library's plan for the cell (0 = not known): KV splits and split-kernel CTAs.
  int splits = 0;
  int64_t split_ctas = 0;
  int cpasync = -1;             // decode: 1 the split row's cp.async producer runs, 0 TMA (-1: not known)
  std::shared_ptr<void> family_state;  // a family's own per-case data (family_attn.cpp: metadata)
};

// Sampled float64 reference of one case (set 0), computed once and used for every check.
struct RefBlock {
  int64_t b, r0, m, kn;  // batch, first query row, rows, keys they see
};
struct RefCache {
  bool ready = false;
  std::vector<RefBlock> blocks;
  std::vector<double> out, lse;  // concatenated over blocks: [m, heads_q, d] and [heads_q, m]
  double fetch_s = 0, compute_s = 0;  // wall seconds: downloading its inputs, computing it
};

struct CaseState {
  bool prepared = false;
  std::string prepare_error;  // setup failed: both entries report it
  int nsets = 1;
  double prepare_s = 0;       // wall seconds spent preparing (gate, cuDNN build and tuning)
  double cudnn_s = 0;         // of which cuDNN's plans: build, check, tuning
  // Paged caches: the page table (host copy for the reference) and the per-sequence lengths
  // cuDNN's padding mask takes.
  std::vector<int32_t> page_table_host;
  DeviceBuffer page_table, seqlens_q, seqlens_k;
  // ptx-fmha
  OursPlan ours;
  DeviceBuffer ours_ws;       // ours.ws_bytes per rotation set
  std::string ours_skip;      // why ours is not timed ("" = timed)
  std::string ours_check;     // agreement summary
  // cuDNN
  std::unique_ptr<CudnnSdpa> cudnn;
  DeviceBuffer cudnn_ws;      // the largest workspace of the plans that may run
  std::vector<PlanCandidate> cudnn_plans;  // what the tuner saw
  int cudnn_chosen = -1;      // index into cudnn_plans
  std::string cudnn_choice;   // describe_choice()
  std::string cudnn_skip;
  std::string cudnn_check;
  // read ceiling (decode)
  std::string ceiling_skip;
  // read probes (g_opt.read_probes, one entry each): why one is not timed, its launch, its
  // timing (the headline method only)
  std::vector<std::string> probe_skip;
  std::vector<ReadProbeLaunch> probe_launch;
  std::vector<MethodTiming> probe_timing;
  RefCache ref;
  // results, measured together (bench_timing.cpp): side[kCudnn], side[kOurs], side[kCeiling]
  bool measured = false;
  MethodTiming timing[kNumSides][kNumMethods];
  const MethodTiming& headline(int side) const;
};

// ---- what one launch works on ----------------------------------------------------------------
struct SetView {
  void* q = nullptr;
  void* k = nullptr;
  void* v = nullptr;
  void* o = nullptr;      // the side's own output (backward: the forward's O, an input of both)
  float* lse = nullptr;   // (backward: the forward's LSE, an input of both)
  const void* dout = nullptr;  // backward: dO, and the side's own dQ, dK, dV
  void* dq = nullptr;
  void* dk = nullptr;
  void* dv = nullptr;
  const int32_t* page_table = nullptr;  // paged: [batch, blocks_per_seq], pages of this set's pool
  const int32_t* seqlens_q = nullptr;   // paged: device [batch]
  const int32_t* seqlens_k = nullptr;
  void* ours_ws = nullptr;              // this set's slice of ptx-fmha's workspace
};
// Rotation set s of a case, with side's outputs (kOurs or kCudnn).
SetView set_view(const Case& c, const CaseState& cs, int s, int side);
// Writes the page table (a random permutation of the pool's pages, fixed seed) and the
// sequence lengths of a paged case.
void make_case_tables(const Case& c, CaseState& cs);
// Poisons set 0's output and LSE (backward: dQ, dK, dV) of one side with NaN, on g_stream (in
// order with launches).
void poison_set0(const Case& c, int side);
// Logical rows [0, kn) of batch b's K and V in set 0 (a paged cache is gathered through the
// page table), into dense [kn, heads_kv, head_dim] bf16.
void download_kv(const Case& c, const CaseState& cs, int64_t b, int64_t kn, uint16_t* k, uint16_t* v);

float softmax_scale(const Case& c);

}  // namespace ptxfmha_bench
