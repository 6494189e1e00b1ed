// Kernel manifest of the Hopper forward family (body: ptx/body/sm90_fwd/). C preprocessor only,
// valid for PTX and C++. One row per kernel; everything about a kernel comes from its row:
//   - its stub ptx/<arch>/<name>.ptx defines KERNEL_NAME and includes this file, which turns the
//     row into the KERNEL_* facts (bottom of this file) that the body's config.ptxh names once
//     and that tests/ read (test_kernel_table.cpp);
//   - host/src/kernels_sm90a.cpp expands SM90_FWD_KERNELS into its kernel-table rows, with the
//     dynamic shared memory of the body's own layout (SM90_FWD_SMEM_BYTES, layout.ptxh).
// Adding a variant: ptx/STYLE.md, "Adding a kernel variant".
#ifndef PTXFMHA_MANIFEST_SM90_FWD_H
#define PTXFMHA_MANIFEST_SM90_FWD_H
#include "manifest.h"
#include "../body/sm90_fwd/layout.ptxh"

// Columns: arch folder; head dim; consumer warpgroups (64 query rows each); block_m (query rows
// per work tile, 64 x consumer warpgroups); block_n (keys per KV tile); K/V ring stages (2 or 4);
// threads (128 x (1 + consumer warpgroups)). block_m and threads are stated, not derived: the
// body checks them against its role table (config.ptxh, roles.ptxh). Head dim 64 runs three
// consumer warpgroups and a 4-stage ring (roles.ptxh says why).
//                                 arch     D   WGS   BM    BN  STAGES THREADS
#define ROW_fmha_fwd_d64_sm90a    (sm90a,   64,   3,  192,  128,    4,    512)
#define ROW_fmha_fwd_d128_sm90a   (sm90a,  128,   2,  128,  128,    2,    384)
#define ROW_fmha_fwd_d256_sm90a   (sm90a,  256,   2,  128,   64,    2,    384)

// The family's kernels in kernel-table order (find_kernel takes the first row of a head dim).
#define SM90_FWD_KERNELS(X) X(fmha_fwd_d64_sm90a) X(fmha_fwd_d128_sm90a) X(fmha_fwd_d256_sm90a)

// Column pickers (PTXFMHA_FIELD(SM90_FWD_<COLUMN>_, name)); SMEM_ is derived: the layout's total.
#define SM90_FWD_ARCH_(arch, d, wgs, bm, bn, st, thr)           arch
#define SM90_FWD_HEAD_DIM_(arch, d, wgs, bm, bn, st, thr)       d
#define SM90_FWD_CONSUMER_WGS_(arch, d, wgs, bm, bn, st, thr)   wgs
#define SM90_FWD_BLOCK_M_(arch, d, wgs, bm, bn, st, thr)        bm
#define SM90_FWD_BLOCK_N_(arch, d, wgs, bm, bn, st, thr)        bn
#define SM90_FWD_KV_STAGES_(arch, d, wgs, bm, bn, st, thr)      st
#define SM90_FWD_THREADS_(arch, d, wgs, bm, bn, st, thr)        thr
#define SM90_FWD_SMEM_(arch, d, wgs, bm, bn, st, thr)           SM90_FWD_SMEM_BYTES(d, bm, bn, st)
#endif

// The facts of the including stub's kernel, once (tests/ read them with cpp).
#if defined(KERNEL_NAME) && !defined(KERNEL_HEAD_DIM)
#include "../include/fwd_params.ptxh"
#define KERNEL_ARCH          PTXFMHA_FIELD(SM90_FWD_ARCH_, KERNEL_NAME)
#define KERNEL_TARGET        PTXFMHA_TARGET(KERNEL_ARCH)
#define KERNEL_HEAD_DIM      PTXFMHA_FIELD(SM90_FWD_HEAD_DIM_, KERNEL_NAME)
#define KERNEL_CONSUMER_WGS  PTXFMHA_FIELD(SM90_FWD_CONSUMER_WGS_, KERNEL_NAME)
#define KERNEL_BLOCK_M       PTXFMHA_FIELD(SM90_FWD_BLOCK_M_, KERNEL_NAME)
#define KERNEL_BLOCK_N       PTXFMHA_FIELD(SM90_FWD_BLOCK_N_, KERNEL_NAME)
#define KERNEL_KV_STAGES     PTXFMHA_FIELD(SM90_FWD_KV_STAGES_, KERNEL_NAME)
#define KERNEL_THREADS       PTXFMHA_FIELD(SM90_FWD_THREADS_, KERNEL_NAME)
#define KERNEL_SMEM_BYTES    PTXFMHA_FIELD(SM90_FWD_SMEM_, KERNEL_NAME)
#define KERNEL_PARAM_BYTES   FWD_PARAM_BYTES
#endif
