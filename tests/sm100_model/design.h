// The two-tile warp-specialised sm100a forward design (docs/sm100_fwd_design.md) as numbers:
// tiles, roles, TMEM column map, shared-memory map, barrier counts, register budgets, for head
// dims 64, 128 and 256. The protocol model (twotile.h), the CUTLASS cross-check
// (tests/test_cpu_sm100a_cutlass.cpp, "design rows"), the numerics emulator and
// tools/perf_model.py (which repeats these numbers and is tied to this header by a test) use it;
// the phase-2 PTX kernels define the same values as macros (names in the comments) and a test
// ties each kernel to its row here.
#pragma once
#include <cstdint>

namespace sm100_design {

struct FwdDesign {
  int head_dim;        // KERNEL_HEAD_DIM
  int q_tiles;         // KERNEL_Q_TILES: 128-row Q tiles per CTA (2; 1 at head dim 256)
  int block_m;         // KERNEL_BLOCK_M = 128 * q_tiles (query rows per CTA tile)
  int block_n;         // KERNEL_BLOCK_N: keys per KV tile
  int threads;         // KERNEL_THREADS
  // Roles (warp numbers): softmax WG t = warps 4t..4t+3, correction WG, one MMA warp, one TMA warp
  int warp_correction; // first warp of the correction warpgroup
  int warp_mma, warp_tma;
  // Registers per thread after setmaxnreg (per warpgroup): softmax, correction, other (MMA/TMA WG)
  int regs_softmax, regs_correction, regs_other;
  // TMEM columns (128 lanes x TMEM_ALLOC_COLS): S buffer b at S0 + b * S_BUF_COLS (b = Q tile,
  // or KV tile parity at q_tiles 1), P buffer b at P0 + b * P_BUF_COLS (packed bf16x2,
  // block_n / 2 columns), O tile t at O0 + t * O_BUF_COLS (head_dim fp32 columns).
  int tmem_alloc_cols;   // TMEM_ALLOC_COLS
  int tmem_s0, s_buf_cols;     // TMEM_COL_S0, S_BUF_COLS
  int tmem_p0, p_buf_cols;     // TMEM_COL_P0, P_BUF_COLS
  int tmem_o0, o_buf_cols;     // TMEM_COL_O0, O_BUF_COLS
  bool p_aliases_s;      // P_ALIAS_S: P over the upper half of S; S = Q K^T issued as two N/2 halves
  int qk_n;              // N of one S = Q K^T instruction (block_n, or block_n / 2 when split)
  // Shared memory (bytes from the 1024-aligned dynamic base)
  int smem_q_off, q_tile_bytes;       // SMEM_Q_OFF, SMEM_Q_TILE_BYTES (Q tile t at + t * bytes)
  int smem_kv_off, kv_slots, kv_slot_bytes;  // SMEM_KV_OFF, KERNEL_KV_SLOTS, KV_SLOT_BYTES
  int smem_o_off, o_stage_bytes;      // SMEM_O_OFF, O_STAGE_BYTES (one bf16 O tile, TMA-store staging)
  int smem_stats_off, stats_bytes;    // SMEM_STATS_OFF, STATS_BYTES (row statistics, per Q tile)
  int smem_bar_off, bar_bytes;        // SMEM_BAR_OFF, SMEM_BAR_BYTES
  int smem_bytes;                     // KERNEL_SMEM_BYTES = 1024 slack + SMEM_BAR_OFF + SMEM_BAR_BYTES
  // exp2 split: of each 32-column fragment, the last EX2_POLY_COLS_PER_32 columns use the FMA-pipe
  // polynomial (chosen by tools/perf_model.py: 4 of 32 at every head dim; the optimum is shallow,
  // 0..8 within 1% of it: retune on hardware)
  int ex2_poly_cols_per_32;
};

constexpr int kSmemLimit = 232448;  // 227 KiB opt-in per block (sm_100)
constexpr int kTmemCols = 512;
constexpr int kAlignSlack = 1024;

constexpr FwdDesign kD64 = {
    64, 2, 256, 128, 512, 8, 12, 13,
    200, 64, 48,
    512, 0, 128, 384, 64, 256, 64, false, 128,
    0, 16384, 32768, 8, 16384, 163840, 16384, 180224, 1024, 181248, 512, 1024 + 181248 + 512,
    4};
constexpr FwdDesign kD128 = {
    128, 2, 256, 128, 512, 8, 12, 13,
    192, 80, 48,
    512, 0, 128, 64, 128, 256, 128, true, 64,
    0, 32768, 65536, 4, 32768, 196608, 32768, 229376, 1024, 230400, 512, 1024 + 230400 + 512,
    4};
constexpr FwdDesign kD256 = {
    256, 1, 128, 64, 384, 4, 8, 9,
    192, 160, 56,
    512, 0, 64, 128, 32, 256, 256, false, 64,
    0, 65536, 65536, 3, 32768, 163840, 65536, 229376, 1024, 230400, 512, 1024 + 230400 + 512,
    4};

constexpr const FwdDesign* kDesigns[] = {&kD64, &kD128, &kD256};

// Barrier table (counts; "t" = per Q tile / S-P buffer, "r" = per KV ring slot). Offsets inside
// the barrier block are 8 bytes apart in this order.
//   q_full[t]      1                TMA: arrive.expect_tx(Q_TILE_BYTES) + Q boxes   -> MMA
//   q_empty[t]     1                MMA: tcgen05.commit after the work tile's last S_t -> TMA
//   kv_full[r]     1                TMA: arrive.expect_tx(KV_SLOT_BYTES) + boxes    -> MMA
//   kv_empty[r]    1                MMA: commit after the last MMA reading the slot -> TMA
//   s_full[b]      1                MMA: commit after S (both halves)               -> softmax
//   p_full[b]      128              softmax threads after tcgen05.st of P           -> MMA
//   o_ready[t]     128              correction threads after the O rescale (or none) -> MMA
//   o_full[t]      1                MMA: commit after PV_t                          -> correction (+ MMA when P aliases S)
//   stats_full[t]  128              softmax threads after writing row statistics    -> correction
//   stats_empty[t] 128              correction threads after reading them           -> softmax
// Named barriers: 0 = every thread (setup, teardown); 1 = the correction warpgroup (128, the
// O staging buffer free / full around the TMA store).
constexpr int kNamedBarEpilogue = 1;

// Lazy rescale threshold (log2 units): O and l are rescaled only when a row max grew by more
// than this since the max in use (2^8, as on Hopper).
constexpr float kRescaleThresholdLog2 = 8.0f;

}  // namespace sm100_design
