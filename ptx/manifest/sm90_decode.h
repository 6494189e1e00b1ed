// Kernel manifest of the split-KV decode family (body: ptx/body/sm90_decode/, kernel.ptxh for
// the split kernels, combine.ptxh for their combine kernels), assembled for sm90a and, unchanged,
// for sm100a. C preprocessor only, valid for PTX and C++. One row per kernel:
//   - its stub ptx/<arch>/<name>.ptx defines KERNEL_NAME and includes this file, which turns the
//     row into the KERNEL_* facts (bottom of this file) the body and tests/ read;
//   - host/src/kernels_decode_rows.h expands the lists below into the kernel-table rows of each
//     architecture, with the split kernels' shared memory from the body's own layout
//     (SM90_DECODE_SMEM_BYTES, layout.ptxh), and into the decode facts the host picks a row by
//     (cache type, features, L2 hint: host/src/decode_rows.cpp).
// Adding a variant: ptx/STYLE.md, "Adding a kernel variant".
#ifndef PTXFMHA_MANIFEST_SM90_DECODE_H
#define PTXFMHA_MANIFEST_SM90_DECODE_H
#include "manifest.h"
#include "../body/sm90_decode/layout.ptxh"

// Family constants (the body checks them against its role table, roles.ptxh):
#define SM90_DECODE_THREADS         160     // split kernel: 4 consumer warps + 1 producer warp
#define SM90_DECODE_CONVERTER_THREADS 64    // + 2 converter warps in the WG 3 rows (roles.ptxh)
#define SM90_DECODE_PAIR_THREADS    512     // WG 4: 2 consumer warpgroups, the producer's, the converters'

#define SM90_DECODE_BLOCK_M         64      // packed query rows per CTA
#define SM90_DECODE_COMBINE_THREADS 32      // combine kernel: one warp (one CTA) per output row
#define SM90_DECODE_COMBINE_BLOCK_M 1       // one output row per CTA
#define SM90_DECODE_COMBINE_BLOCK_N 0       // no key tiles

// Split kernels. Columns:
//   arch    architecture folder
//   D       head dim
//   STAGES  K/V ring stages (the shared memory that fits: more tiles in flight at head dim 64;
//           e4m3 tiles are half the bytes, so twice the stages keep the bytes in flight; the
//           plain and _cl e4m3 rows at head dim 64 take 6, so that 4 CTAs fit an SM with the
//           same ring bytes per SM, layout.ptxh). _s3 (bf16 d64, 3 stages, 4 CTAs per SM): the
//           wide twin of the plain row, run by the plan when the unsplit grid covers the SMs
//           (decode_launch.cpp, decode_prefers_wide_row)
//   KV      bytes per cache element: 2 = bf16 K/V, 1 = e4m3 K/V dequantised after the load
//           (fp32 scales per KV head or per tensor; the QK and PV products in f16 mma.sync)
//   FT      1 = the serving features (sliding window, softcap, ALiBi, attention sinks in the
//           direct epilogue) as run-time switches of the parameter block; 0 = plain
//   L2      1 = K/V loads with an L2 evict_first cache policy (read-once streams); 0 = none
//   HPC     KV heads per CTA: 1, or 2 (_h2: two adjacent heads' K/V rows issued back to back,
//           512 contiguous bytes per key at bf16 d128 instead of two 256-byte pieces 2 KiB
//           apart, 128 at e4m3 d64 instead of two 64-byte halves of an L2 line read by two
//           CTAs; one m-tile of at most 16 packed rows per head, plain kernels only). bf16
//           d64 _h2 (s39, TMA: no cp.async): 256 contiguous bytes per key instead of two
//           128-byte rows 1-4 KiB apart: in the s35 table (H100) bf16 d64 reads a median 95% of
//           the read ceiling at batch >= 32, d128 99%, the same in pages or not. The plan runs
//           the bf16 _h2 rows where the two-heads grid covers the SMs: d64 contiguous or in
//           pages of >= 64 (s39), d128 in pages of >= 64 at 4k-32k keys (s40; decode.h,
//           decode_prefers_two_heads_bf16)
//   CL      1 = the splits merge inside the split kernel (_cl: the num_splits CTAs of one
//           (sequence, KV head, m-group) form a thread-block cluster and combine their partials
//           through distributed shared memory: no combine kernel, no workspace; cluster.ptxh);
//           0 = partials to the workspace and the combine kernel. The host picks a _cl row
//           (decode_rows.h: find_decode_cluster) when its plan says the cluster pays and the
//           cluster can be resident (decode_plan.cpp, decode_launch.cpp)
// The host runs the first row of each (arch, D, KV, FT) that fits the call (decode_rows.h):
// the e4m3 d64 _h2 row where two heads fit (even heads_kv, <= 16 packed rows per head), else the
// one-head row. (A d128 _e4m3_h2 row gave rel. L2 0.14-0.41 on the H200, 2026-12-02, and was
// removed: its epilogue normalised both heads' rows with the thread's own head's V scale;
// EPI_ITEM_VSCALE, config.ptxh, now loads the item's.) The bf16 _h2 rows replace the one-head row
// where decode_grid_row says so (above); other rows (_ef, _s6: the part-1 levers) run only when
// named (tests, the bench's A/B).
//   RG      register cap (.maxnreg), 0 = ptxas's own count. The _s3 rows (3 stages, 50,304 B:
//           shared memory admits 4 CTAs per SM) need <= 96 registers for the register file to
//           admit 4 too (ptxas alone takes 107); the d64 _e4m3_wg rows (58,496 B: 3 CTAs) <= 120
//           (the first pipelined loop took 124 without the cap, which admits 2: a warp's
//           registers in units of 256, the warps per SM a multiple of 4), the d128 ones (99,456
//           B: 2 CTAs) <= 168; no spills at any cap (ptxas -v; test "decode split
//           rows: registers admit the CTAs their shared memory admits")
//   WG      1 = the main loop of one warpgroup (_wg): the 4 consumer warps compute the CTA's 64
//           packed rows together with wgmma (S = Q K^T with Q's A fragments in registers and K
//           from the ring; O += P V with P in registers and V from the ring, MN-major), so K
//           and V are read from shared memory once per tile instead of once per warp
//           (mainloop_wg.ptxh). For CTAs of 33..64 packed rows (3 or 4 m-tiles), where each
//           warp of the mma.sync loop runs 3-4 sub-blocks per tile; bf16, plain, one KV head,
//           sm90a only (wgmma does not exist on sm_100a), head dims 64, 128 and 256 (at 256
//           the O accumulator takes 128 registers, so Q is read from a Q tile in shared memory,
//           and the ring of 3 stages and the Q tile admit one CTA per SM; H200 2026-12-05,
//           bench/results/h200-2026-12-05-s20). The host runs it for such calls
//           (decode_rows.h: find_decode_split); 0 = the per-warp mma.sync loop (mainloop.ptxh).
//           With an e4m3 cache (_e4m3_wg, _e4m3_wg_cl; config.ptxh: WG_QK_E4M3): WG 2 at every
//           head dim, the software-pipelined loop of mainloop_wg_e4m3_pipe.ptxh, S(u) and P V(u -
//           1) issued together, the QK wgmma on the stage's e4m3 K with Q split into two e4m3
//           tiles, and V(u) converted beside them into one of two f16 V copies
//           (kv_e4m3_wg.ptxh). d64: 4 stages, 58,496 B; d128: 3 stages, 99,456 B (4 would be
//           115,840, 128 over two CTAs per SM), at most 168 registers (2 CTAs); d256
//           (2026-12-05, s21; not yet run on a GPU): 4 stages, two V copies and Q's tiles,
//           230,528 B, 255 registers without a cap (no spills), one CTA per SM, S in one
//           accumulator per 128-byte column block of K. (Until 2026-12-04 K was converted into
//           f16 copies too: d64 two copies of K and V, d128 one, used one tile at a time (WG 1);
//           a d128 row of 2 stages and two such copies ran 0.67x-0.85x that, H200 2026-12-04,
//           bench/results/h200-2026-12-04-s15/r1, at 187 registers: one CTA per SM; d256's
//           serial row of that design, _e4m3_wgs, took 1.18x-1.30x the WG 2 row's time on every
//           64-row cell, H200 2026-12-05, bench/results/h200-2026-12-05-s23, and was removed.)
//           WG 3 (_e4m3_wgc, _e4m3_wgc_cl; d256, 2026-12-06, s25): WG 2's loop with V's
//           conversion moved out of the consumers into two converter warps (224 threads: the
//           row's thread count, SM90_DECODE_THREADS_; roles.ptxh, converter.ptxh), the copies
//           handed over by mbarriers. Since s27 the plan's d256 e4m3 rows (listed before WG 2's
//           d256 pair, which the lookup then runs only when named, the A/B baseline): where the
//           kernel binds (d256 128/8 x 8 tokens, 128 packed rows: two CTAs per tile, H100
//           2026-12-06) 1.012x / 1.018x WG 2 (two rounds, 8 cells, 0.995x-1.054x); where the
//           H100's memory binds (4 tokens, pages of 16, 32 rows) 1.001x (0.996x-1.009x).
//           (A d128 pair, one CTA of 6 stages per SM where WG 2 runs two of 3, was built in s26
//           and removed in s27: on two H100s it read the same 2.2-2.96 TB/s at 3% apart in
//           memory bandwidth, a compute cap, below the 3.24-3.41 TB/s WG 2's d128 row reads on
//           the H200 at kv 32k-128k; bench/DECODE_NOTES.md, s27.)
//           WG 4 (_e4m3_wg2c, _e4m3_wg2c_cl; d256, 2026-12-06, s28): two consumer warpgroups
//           taking the split's even and odd tiles, one tile at a time each, merged by the
//           EPILOGUE as key parts; a producer warpgroup and four converter warps (512 threads,
//           setmaxnreg: consumers 224, the others 32; roles.ptxh, mainloop_wg_e4m3_pair.ptxh);
//           the same shared memory. Since s28 the plan's d256 e4m3 rows (listed first; WG 3's and
//           WG 2's pairs named only): H100 2026-12-06, 8 tokens 1.13x WG 3 (two rounds of 8
//           cells, 1.11x-1.16x), 4 tokens 1.01x (0.998x-1.03x).
//   HO      1 = chunks handed out at run time (_ho, ho_on.ptxh; s38): a (sequence, KV head)
//           unit's keys in num_splits chunks of split_keys keys, fixed by the plan; the unit's
//           grid.y CTAs take them from a per-unit counter of the workspace (atom.add, zeroed by
//           the host before each call) and keep the ring running across chunks; each chunk's
//           partial (the key parts merged through the chunk's last stage) goes to the
//           workspace as a split's does, so the combine and the result do not depend on which
//           CTA ran which chunk. bf16, plain, one KV head, one m-tile (<= 16 packed rows),
//           mma.sync, TMA (no cp.async); 0 = each CTA its own split. Run when named (A/B): on
//           an H100 (2026-12-07, s38, bench/results/h100-2026-12-07-s38) 0.62x-0.998x the
//           plan's speed (slower) on ten cells at 4-32 chunks a CTA (each CTA 10-17% longer at the same
//           bytes, the combine growing with the chunks), correct and bitwise deterministic;
//           s39 (H100, bench/results/h100-2026-12-07-s39): ~2.6 us per chunk switch (the
//           kernel at one chunk a CTA costs what the plan's does), region-major tickets no
//           better (branch s39-ho-region).
//                                            arch      D  STAGES KV  FT  L2  HPC CL  RG  WG  HO
#define ROW_fmha_decode_d64_sm90a            (sm90a,    64,  4,  2,  0,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d128_sm90a           (sm90a,   128,  3,  2,  0,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d256_sm90a           (sm90a,   256,  3,  2,  0,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d64_attn_sm90a       (sm90a,    64,  4,  2,  1,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d128_attn_sm90a      (sm90a,   128,  3,  2,  1,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d256_attn_sm90a      (sm90a,   256,  3,  2,  1,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d64_e4m3_sm90a       (sm90a,    64,  6,  1,  0,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d128_e4m3_sm90a      (sm90a,   128,  6,  1,  0,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d256_e4m3_sm90a      (sm90a,   256,  6,  1,  0,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d64_e4m3_attn_sm90a  (sm90a,    64,  8,  1,  1,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d128_e4m3_attn_sm90a (sm90a,   128,  6,  1,  1,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d256_e4m3_attn_sm90a (sm90a,   256,  6,  1,  1,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d128_ef_sm90a        (sm90a,   128,  3,  2,  0,  1,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d128_s6_sm90a        (sm90a,   128,  6,  2,  0,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d64_s3_sm90a        (sm90a,    64,  3,  2,  0,  0,  1, 0,  96,  0,  0)
#define ROW_fmha_decode_d128_e4m3_ef_sm90a   (sm90a,   128,  6,  1,  0,  1,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d128_h2_sm90a        (sm90a,   128,  3,  2,  0,  0,  2, 0,   0,  0,  0)
#define ROW_fmha_decode_d64_h2_sm90a         (sm90a,    64,  3,  2,  0,  0,  2, 0,   0,  0,  0)
#define ROW_fmha_decode_d64_e4m3_h2_sm90a    (sm90a,    64,  3,  1,  0,  0,  2, 0,   0,  0,  0)
#define ROW_fmha_decode_d64_wg_sm90a         (sm90a,    64,  4,  2,  0,  0,  1, 0,   0,  1,  0)
#define ROW_fmha_decode_d128_wg_sm90a        (sm90a,   128,  3,  2,  0,  0,  1, 0,   0,  1,  0)
#define ROW_fmha_decode_d64_wg_cl_sm90a      (sm90a,    64,  4,  2,  0,  0,  1, 1,   0,  1,  0)
#define ROW_fmha_decode_d128_wg_cl_sm90a     (sm90a,   128,  3,  2,  0,  0,  1, 1,   0,  1,  0)
#define ROW_fmha_decode_d256_wg_sm90a        (sm90a,   256,  3,  2,  0,  0,  1, 0,   0,  1,  0)
#define ROW_fmha_decode_d256_wg_cl_sm90a     (sm90a,   256,  3,  2,  0,  0,  1, 1,   0,  1,  0)
#define ROW_fmha_decode_d64_e4m3_wg_sm90a    (sm90a,    64,  4,  1,  0,  0,  1, 0, 120,  2,  0)
#define ROW_fmha_decode_d128_e4m3_wg_sm90a   (sm90a,   128,  3,  1,  0,  0,  1, 0, 168,  2,  0)
#define ROW_fmha_decode_d64_e4m3_wg_cl_sm90a (sm90a,    64,  4,  1,  0,  0,  1, 1, 120,  2,  0)
#define ROW_fmha_decode_d128_e4m3_wg_cl_sm90a (sm90a,  128,  3,  1,  0,  0,  1, 1, 168,  2,  0)
#define ROW_fmha_decode_d256_e4m3_wg_sm90a   (sm90a,   256,  4,  1,  0,  0,  1, 0,   0,  2,  0)
#define ROW_fmha_decode_d256_e4m3_wg_cl_sm90a (sm90a,  256,  4,  1,  0,  0,  1, 1,   0,  2,  0)
#define ROW_fmha_decode_d256_e4m3_wgc_sm90a  (sm90a,   256,  4,  1,  0,  0,  1, 0,   0,  3,  0)
#define ROW_fmha_decode_d256_e4m3_wgc_cl_sm90a (sm90a, 256,  4,  1,  0,  0,  1, 1,   0,  3,  0)
#define ROW_fmha_decode_d256_e4m3_wg2c_sm90a (sm90a,   256,  4,  1,  0,  0,  1, 0,   0,  4,  0)
#define ROW_fmha_decode_d256_e4m3_wg2c_cl_sm90a (sm90a, 256, 4,  1,  0,  0,  1, 1,   0,  4,  0)
#define ROW_fmha_decode_d64_ho_sm90a         (sm90a,    64,  4,  2,  0,  0,  1, 0,   0,  0,  1)
#define ROW_fmha_decode_d128_ho_sm90a        (sm90a,   128,  3,  2,  0,  0,  1, 0,   0,  0,  1)
#define ROW_fmha_decode_d256_ho_sm90a        (sm90a,   256,  3,  2,  0,  0,  1, 0,   0,  0,  1)
#define ROW_fmha_decode_d64_cl_sm90a              (sm90a,    64,  4,  2,  0,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d128_cl_sm90a             (sm90a,   128,  3,  2,  0,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d256_cl_sm90a             (sm90a,   256,  3,  2,  0,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d64_attn_cl_sm90a         (sm90a,    64,  4,  2,  1,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d128_attn_cl_sm90a        (sm90a,   128,  3,  2,  1,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d256_attn_cl_sm90a        (sm90a,   256,  3,  2,  1,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d64_e4m3_cl_sm90a         (sm90a,    64,  6,  1,  0,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d128_e4m3_cl_sm90a        (sm90a,   128,  6,  1,  0,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d256_e4m3_cl_sm90a        (sm90a,   256,  6,  1,  0,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d64_e4m3_attn_cl_sm90a    (sm90a,    64,  8,  1,  1,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d128_e4m3_attn_cl_sm90a   (sm90a,   128,  6,  1,  1,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d256_e4m3_attn_cl_sm90a   (sm90a,   256,  6,  1,  1,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d64_sm100a           (sm100a,   64,  4,  2,  0,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d128_sm100a          (sm100a,  128,  3,  2,  0,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d256_sm100a          (sm100a,  256,  3,  2,  0,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d64_attn_sm100a      (sm100a,   64,  4,  2,  1,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d128_attn_sm100a     (sm100a,  128,  3,  2,  1,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d256_attn_sm100a     (sm100a,  256,  3,  2,  1,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d64_e4m3_sm100a      (sm100a,   64,  6,  1,  0,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d128_e4m3_sm100a     (sm100a,  128,  6,  1,  0,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d256_e4m3_sm100a     (sm100a,  256,  6,  1,  0,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d64_e4m3_attn_sm100a (sm100a,   64,  8,  1,  1,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d128_e4m3_attn_sm100a (sm100a, 128,  6,  1,  1,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d256_e4m3_attn_sm100a (sm100a, 256,  6,  1,  1,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d128_ef_sm100a       (sm100a,  128,  3,  2,  0,  1,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d128_s6_sm100a       (sm100a,  128,  6,  2,  0,  0,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d64_s3_sm100a       (sm100a,   64,  3,  2,  0,  0,  1, 0,  96,  0,  0)
#define ROW_fmha_decode_d128_e4m3_ef_sm100a  (sm100a,  128,  6,  1,  0,  1,  1, 0,   0,  0,  0)
#define ROW_fmha_decode_d128_h2_sm100a       (sm100a,  128,  3,  2,  0,  0,  2, 0,   0,  0,  0)
#define ROW_fmha_decode_d64_h2_sm100a        (sm100a,   64,  3,  2,  0,  0,  2, 0,   0,  0,  0)
#define ROW_fmha_decode_d64_e4m3_h2_sm100a   (sm100a,   64,  3,  1,  0,  0,  2, 0,   0,  0,  0)
#define ROW_fmha_decode_d64_ho_sm100a        (sm100a,   64,  4,  2,  0,  0,  1, 0,   0,  0,  1)
#define ROW_fmha_decode_d128_ho_sm100a       (sm100a,  128,  3,  2,  0,  0,  1, 0,   0,  0,  1)
#define ROW_fmha_decode_d256_ho_sm100a       (sm100a,  256,  3,  2,  0,  0,  1, 0,   0,  0,  1)
#define ROW_fmha_decode_d64_cl_sm100a             (sm100a,   64,  4,  2,  0,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d128_cl_sm100a            (sm100a,  128,  3,  2,  0,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d256_cl_sm100a            (sm100a,  256,  3,  2,  0,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d64_attn_cl_sm100a        (sm100a,   64,  4,  2,  1,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d128_attn_cl_sm100a       (sm100a,  128,  3,  2,  1,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d256_attn_cl_sm100a       (sm100a,  256,  3,  2,  1,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d64_e4m3_cl_sm100a        (sm100a,   64,  6,  1,  0,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d128_e4m3_cl_sm100a       (sm100a,  128,  6,  1,  0,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d256_e4m3_cl_sm100a       (sm100a,  256,  6,  1,  0,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d64_e4m3_attn_cl_sm100a   (sm100a,   64,  8,  1,  1,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d128_e4m3_attn_cl_sm100a  (sm100a,  128,  6,  1,  1,  0,  1, 1,   0,  0,  0)
#define ROW_fmha_decode_d256_e4m3_attn_cl_sm100a  (sm100a,  256,  6,  1,  1,  0,  1, 1,   0,  0,  0)
// Combine kernels. Columns: arch folder; head dim; SINK (1 = the attention sinks join each
// row's softmax here: fp32 sink logits [heads_q] of the parameter block).
#define ROW_fmha_decode_combine_d64_sm90a         (sm90a,   64, 0)
#define ROW_fmha_decode_combine_d128_sm90a        (sm90a,  128, 0)
#define ROW_fmha_decode_combine_d256_sm90a        (sm90a,  256, 0)
#define ROW_fmha_decode_combine_d64_sink_sm90a    (sm90a,   64, 1)
#define ROW_fmha_decode_combine_d128_sink_sm90a   (sm90a,  128, 1)
#define ROW_fmha_decode_combine_d256_sink_sm90a   (sm90a,  256, 1)
#define ROW_fmha_decode_combine_d64_sm100a        (sm100a,  64, 0)
#define ROW_fmha_decode_combine_d128_sm100a       (sm100a, 128, 0)
#define ROW_fmha_decode_combine_d256_sm100a       (sm100a, 256, 0)
#define ROW_fmha_decode_combine_d64_sink_sm100a   (sm100a,  64, 1)
#define ROW_fmha_decode_combine_d128_sink_sm100a  (sm100a, 128, 1)
#define ROW_fmha_decode_combine_d256_sink_sm100a  (sm100a, 256, 1)

// The kernels of each architecture folder, in kernel-table order: the default split kernel of
// each head dim (the plain bf16 rows: KernelKind::Decode), then the variants
// (KernelKind::DecodeVariant); the plain combine kernels (DecodeCombine), then the sink
// variants (DecodeCombineVariant).
#define SM90_DECODE_KERNELS_sm90a(X)  X(fmha_decode_d64_sm90a) X(fmha_decode_d128_sm90a) X(fmha_decode_d256_sm90a)
#define SM90_DECODE_KERNELS_sm100a(X) X(fmha_decode_d64_sm100a) X(fmha_decode_d128_sm100a) X(fmha_decode_d256_sm100a)
#define SM90_DECODE_VARIANTS_sm90a(X)                                                        \
    X(fmha_decode_d64_attn_sm90a) X(fmha_decode_d128_attn_sm90a) X(fmha_decode_d256_attn_sm90a) \
    X(fmha_decode_d64_e4m3_h2_sm90a) X(fmha_decode_d64_e4m3_sm90a) X(fmha_decode_d128_e4m3_sm90a)   \
    X(fmha_decode_d256_e4m3_sm90a) \
    X(fmha_decode_d64_e4m3_attn_sm90a) X(fmha_decode_d128_e4m3_attn_sm90a)                   \
    X(fmha_decode_d256_e4m3_attn_sm90a)                                                       \
    X(fmha_decode_d128_ef_sm90a) X(fmha_decode_d128_s6_sm90a) X(fmha_decode_d128_e4m3_ef_sm90a) \
    X(fmha_decode_d64_s3_sm90a)    \
    X(fmha_decode_d128_h2_sm90a) X(fmha_decode_d64_h2_sm90a)                               \
    X(fmha_decode_d64_cl_sm90a) X(fmha_decode_d128_cl_sm90a) X(fmha_decode_d256_cl_sm90a)         \
    X(fmha_decode_d64_attn_cl_sm90a) X(fmha_decode_d128_attn_cl_sm90a) X(fmha_decode_d256_attn_cl_sm90a) \
    X(fmha_decode_d64_e4m3_cl_sm90a) X(fmha_decode_d128_e4m3_cl_sm90a) X(fmha_decode_d256_e4m3_cl_sm90a) \
    X(fmha_decode_d64_e4m3_attn_cl_sm90a) X(fmha_decode_d128_e4m3_attn_cl_sm90a) X(fmha_decode_d256_e4m3_attn_cl_sm90a) \
    X(fmha_decode_d64_wg_sm90a) X(fmha_decode_d128_wg_sm90a) X(fmha_decode_d64_wg_cl_sm90a) X(fmha_decode_d128_wg_cl_sm90a) \
    X(fmha_decode_d256_wg_sm90a) X(fmha_decode_d256_wg_cl_sm90a) \
    X(fmha_decode_d64_e4m3_wg_sm90a) X(fmha_decode_d128_e4m3_wg_sm90a) X(fmha_decode_d64_e4m3_wg_cl_sm90a) \
    X(fmha_decode_d128_e4m3_wg_cl_sm90a) \
    X(fmha_decode_d256_e4m3_wg2c_sm90a) X(fmha_decode_d256_e4m3_wg2c_cl_sm90a) \
    X(fmha_decode_d256_e4m3_wgc_sm90a) X(fmha_decode_d256_e4m3_wgc_cl_sm90a) \
    X(fmha_decode_d256_e4m3_wg_sm90a) X(fmha_decode_d256_e4m3_wg_cl_sm90a) \
    X(fmha_decode_d64_ho_sm90a) X(fmha_decode_d128_ho_sm90a) X(fmha_decode_d256_ho_sm90a)
#define SM90_DECODE_VARIANTS_sm100a(X)                                                       \
    X(fmha_decode_d64_attn_sm100a) X(fmha_decode_d128_attn_sm100a) X(fmha_decode_d256_attn_sm100a) \
    X(fmha_decode_d64_e4m3_h2_sm100a) X(fmha_decode_d64_e4m3_sm100a) X(fmha_decode_d128_e4m3_sm100a)   \
    X(fmha_decode_d256_e4m3_sm100a) \
    X(fmha_decode_d64_e4m3_attn_sm100a) X(fmha_decode_d128_e4m3_attn_sm100a)                  \
    X(fmha_decode_d256_e4m3_attn_sm100a)                                                      \
    X(fmha_decode_d128_ef_sm100a) X(fmha_decode_d128_s6_sm100a) X(fmha_decode_d128_e4m3_ef_sm100a) \
    X(fmha_decode_d64_s3_sm100a)    \
    X(fmha_decode_d128_h2_sm100a) X(fmha_decode_d64_h2_sm100a)                               \
    X(fmha_decode_d64_cl_sm100a) X(fmha_decode_d128_cl_sm100a) X(fmha_decode_d256_cl_sm100a)         \
    X(fmha_decode_d64_attn_cl_sm100a) X(fmha_decode_d128_attn_cl_sm100a) X(fmha_decode_d256_attn_cl_sm100a) \
    X(fmha_decode_d64_e4m3_cl_sm100a) X(fmha_decode_d128_e4m3_cl_sm100a) X(fmha_decode_d256_e4m3_cl_sm100a) \
    X(fmha_decode_d64_e4m3_attn_cl_sm100a) X(fmha_decode_d128_e4m3_attn_cl_sm100a) X(fmha_decode_d256_e4m3_attn_cl_sm100a) \
    X(fmha_decode_d64_ho_sm100a) X(fmha_decode_d128_ho_sm100a) X(fmha_decode_d256_ho_sm100a)
#define SM90_DECODE_COMBINE_KERNELS_sm90a(X)                                                 \
    X(fmha_decode_combine_d64_sm90a) X(fmha_decode_combine_d128_sm90a) X(fmha_decode_combine_d256_sm90a)
#define SM90_DECODE_COMBINE_KERNELS_sm100a(X)                                                \
    X(fmha_decode_combine_d64_sm100a) X(fmha_decode_combine_d128_sm100a) X(fmha_decode_combine_d256_sm100a)
#define SM90_DECODE_COMBINE_VARIANTS_sm90a(X)                                                \
    X(fmha_decode_combine_d64_sink_sm90a) X(fmha_decode_combine_d128_sink_sm90a)             \
    X(fmha_decode_combine_d256_sink_sm90a)
#define SM90_DECODE_COMBINE_VARIANTS_sm100a(X)                                               \
    X(fmha_decode_combine_d64_sink_sm100a) X(fmha_decode_combine_d128_sink_sm100a)           \
    X(fmha_decode_combine_d256_sink_sm100a)

// Which rows load a contiguous cache with the cp.async producer (s30): the plain bf16 rows, one
// KV head, mma.sync consumers (no WG loop), no features, no L2 hint, no run-time hand-out (the _ho
// rows: TMA only). One expression, read by the body (config.ptxh: CPASYNC) and by the host
// (decode_rows.cpp: decode_row_cpasync).
#define SM90_DECODE_CPASYNC(kv, ft, l2, h, wg, ho) ((kv) == 2 && (h) == 1 && !(wg) && !(ft) && !(l2) && !(ho))

// Column pickers (PTXFMHA_FIELD(SM90_DECODE_<COLUMN>_, name)); SMEM_ is the layout's total.
#define SM90_DECODE_ARCH_(arch, d, st, kv, ft, l2, h, cl, rg, wg, ho)       arch
#define SM90_DECODE_HEAD_DIM_(arch, d, st, kv, ft, l2, h, cl, rg, wg, ho)   d
#define SM90_DECODE_STAGES_(arch, d, st, kv, ft, l2, h, cl, rg, wg, ho)     st
#define SM90_DECODE_KV_BYTES_(arch, d, st, kv, ft, l2, h, cl, rg, wg, ho)   kv
#define SM90_DECODE_FEATURES_(arch, d, st, kv, ft, l2, h, cl, rg, wg, ho)   ft
#define SM90_DECODE_L2_HINT_(arch, d, st, kv, ft, l2, h, cl, rg, wg, ho)    l2
#define SM90_DECODE_HEADS_(arch, d, st, kv, ft, l2, h, cl, rg, wg, ho)      h
#define SM90_DECODE_CLUSTER_(arch, d, st, kv, ft, l2, h, cl, rg, wg, ho)    cl
#define SM90_DECODE_MAX_REGS_(arch, d, st, kv, ft, l2, h, cl, rg, wg, ho)   rg
#define SM90_DECODE_WG_(arch, d, st, kv, ft, l2, h, cl, rg, wg, ho)         wg
#define SM90_DECODE_HANDOUT_(arch, d, st, kv, ft, l2, h, cl, rg, wg, ho)    ho
#define SM90_DECODE_SMEM_(arch, d, st, kv, ft, l2, h, cl, rg, wg, ho)       (SM90_DECODE_SMEM_BYTES(d, st, kv, h, wg) + SM90_DECODE_HO_SLOT_BYTES(ho))
#define SM90_DECODE_THREADS_(arch, d, st, kv, ft, l2, h, cl, rg, wg, ho)    PTXFMHA_CAT(SM90_DECODE_THREADS_WG, wg)
// a row's threads by its WG (a literal: .maxntid takes no expression); WG 3: + the converter warps;
// WG 4: three warpgroups (roles.ptxh)
#define SM90_DECODE_THREADS_WG0     160
#define SM90_DECODE_THREADS_WG1     160
#define SM90_DECODE_THREADS_WG2     160
#define SM90_DECODE_THREADS_WG3     224
#define SM90_DECODE_THREADS_WG4     512
#if SM90_DECODE_THREADS_WG0 != SM90_DECODE_THREADS || SM90_DECODE_THREADS_WG3 != SM90_DECODE_THREADS + SM90_DECODE_CONVERTER_THREADS || SM90_DECODE_THREADS_WG4 != SM90_DECODE_PAIR_THREADS
#error "the rows' thread counts"
#endif
#define SM90_DECODE_COMBINE_ARCH_(arch, d, sink)            arch
#define SM90_DECODE_COMBINE_HEAD_DIM_(arch, d, sink)        d
#define SM90_DECODE_COMBINE_SINK_(arch, d, sink)            sink
#endif

// The facts of the including stub's kernel, once (tests/ read them with cpp). A split stub
// defines KERNEL_NAME; a combine stub also KERNEL_COMBINE.
#if defined(KERNEL_NAME) && !defined(KERNEL_HEAD_DIM)
#include "../include/decode_params.ptxh"
#define KERNEL_PARAM_BYTES   DECODE_PARAM_BYTES
#ifndef KERNEL_COMBINE
#define KERNEL_ARCH          PTXFMHA_FIELD(SM90_DECODE_ARCH_, KERNEL_NAME)
#define KERNEL_HEAD_DIM      PTXFMHA_FIELD(SM90_DECODE_HEAD_DIM_, KERNEL_NAME)
#define KERNEL_STAGES        PTXFMHA_FIELD(SM90_DECODE_STAGES_, KERNEL_NAME)
#define KERNEL_KV_BYTES      PTXFMHA_FIELD(SM90_DECODE_KV_BYTES_, KERNEL_NAME)
#define KERNEL_FEATURES      PTXFMHA_FIELD(SM90_DECODE_FEATURES_, KERNEL_NAME)
#define KERNEL_L2_HINT       PTXFMHA_FIELD(SM90_DECODE_L2_HINT_, KERNEL_NAME)
#define KERNEL_HEADS         PTXFMHA_FIELD(SM90_DECODE_HEADS_, KERNEL_NAME)
#define KERNEL_CLUSTER       PTXFMHA_FIELD(SM90_DECODE_CLUSTER_, KERNEL_NAME)
#define KERNEL_MAX_REGS      PTXFMHA_FIELD(SM90_DECODE_MAX_REGS_, KERNEL_NAME)
#define KERNEL_WG            PTXFMHA_FIELD(SM90_DECODE_WG_, KERNEL_NAME)
#define KERNEL_HANDOUT       PTXFMHA_FIELD(SM90_DECODE_HANDOUT_, KERNEL_NAME)
#define KERNEL_BLOCK_M       SM90_DECODE_BLOCK_M
#define KERNEL_BLOCK_N       SM90_DECODE_BLOCK_N
#define KERNEL_THREADS       PTXFMHA_FIELD(SM90_DECODE_THREADS_, KERNEL_NAME)
#define KERNEL_SMEM_BYTES    PTXFMHA_FIELD(SM90_DECODE_SMEM_, KERNEL_NAME)
#else
#define KERNEL_ARCH          PTXFMHA_FIELD(SM90_DECODE_COMBINE_ARCH_, KERNEL_NAME)
#define KERNEL_HEAD_DIM      PTXFMHA_FIELD(SM90_DECODE_COMBINE_HEAD_DIM_, KERNEL_NAME)
#define KERNEL_SINK          PTXFMHA_FIELD(SM90_DECODE_COMBINE_SINK_, KERNEL_NAME)
#define KERNEL_BLOCK_M       SM90_DECODE_COMBINE_BLOCK_M
#define KERNEL_BLOCK_N       SM90_DECODE_COMBINE_BLOCK_N
#define KERNEL_THREADS       SM90_DECODE_COMBINE_THREADS
#define KERNEL_SMEM_BYTES    0                       // no shared memory
#endif
#define KERNEL_TARGET        PTXFMHA_TARGET(KERNEL_ARCH)
#endif
