// Kernel manifest of the serial Blackwell forward family (body: ptx/body/sm100_fwd_serial/).
// C preprocessor only, valid for PTX and C++. One row per kernel:
//   - its stub ptx/sm100a/<name>.ptx defines KERNEL_NAME and includes this file, which turns the
//     row into the KERNEL_* facts (bottom of this file) the body and tests/ read;
//   - host/src/kernels_sm100a.cpp expands SM100_FWD_SERIAL_KERNELS into its kernel-table rows,
//     with the shared memory of the body's own layout (SM100_SERIAL_SMEM_BYTES, layout.ptxh).
// Adding a variant: ptx/STYLE.md, "Adding a kernel variant".
#ifndef PTXFMHA_MANIFEST_SM100_FWD_SERIAL_H
#define PTXFMHA_MANIFEST_SM100_FWD_SERIAL_H
#include "manifest.h"
#include "../body/sm100_fwd_serial/layout.ptxh"

// Family constants (the body checks them against its role table, roles.ptxh):
#define SM100_SERIAL_THREADS        192     // 4 softmax warps + the load warp + the MMA warp

// Columns: arch folder; head dim; block_n (keys per KV tile); K/V ring stages; P in shared
// memory (1: the "_pss_" comparison variants, SS MMA for O += P V) or in TMEM (0, TS MMA).
//                                             arch     D    BN  STAGES  P_IN_SMEM
#define ROW_fmha_fwd_d64_serial_sm100a        (sm100a,  64,  128,     3,         0)
#define ROW_fmha_fwd_d128_serial_sm100a       (sm100a, 128,  128,     2,         0)
#define ROW_fmha_fwd_d256_serial_sm100a       (sm100a, 256,   64,     2,         0)
#define ROW_fmha_fwd_d64_serial_pss_sm100a    (sm100a,  64,  128,     3,         1)
#define ROW_fmha_fwd_d128_serial_pss_sm100a   (sm100a, 128,  128,     2,         1)

// Kernel-table order: find_kernel() takes the first row of (arch, kind, head dim). These rows are
// A/B variants of the two-tile defaults (ptx/manifest/sm100_fwd.h, whose rows the kernel table
// lists first): never selected by ptxfmha_fwd, run by name (--ptxfmha_fwd_kernel, fwd_with_row).
#define SM100_FWD_SERIAL_KERNELS(X)                                                          \
    X(fmha_fwd_d64_serial_sm100a) X(fmha_fwd_d128_serial_sm100a) X(fmha_fwd_d256_serial_sm100a) \
    X(fmha_fwd_d64_serial_pss_sm100a) X(fmha_fwd_d128_serial_pss_sm100a)

// Column pickers (PTXFMHA_FIELD(SM100_SERIAL_<COLUMN>_, name)); SMEM_ is the layout's total.
#define SM100_SERIAL_ARCH_(arch, d, bn, st, p)          arch
#define SM100_SERIAL_HEAD_DIM_(arch, d, bn, st, p)      d
#define SM100_SERIAL_BLOCK_N_(arch, d, bn, st, p)       bn
#define SM100_SERIAL_STAGES_(arch, d, bn, st, p)        st
#define SM100_SERIAL_P_IN_SMEM_(arch, d, bn, st, p)     p
#define SM100_SERIAL_SMEM_(arch, d, bn, st, p)          SM100_SERIAL_SMEM_BYTES(d, bn, st, p)
#endif

// The facts of the including stub's kernel, once (tests/ read them with cpp).
#if defined(KERNEL_NAME) && !defined(KERNEL_HEAD_DIM)
#include "../include/fwd_params.ptxh"
#define KERNEL_PARAM         PTXFMHA_CAT(KERNEL_NAME, _param)   // the .param block's name
#define KERNEL_ARCH          PTXFMHA_FIELD(SM100_SERIAL_ARCH_, KERNEL_NAME)
#define KERNEL_TARGET        PTXFMHA_TARGET(KERNEL_ARCH)
#define KERNEL_HEAD_DIM      PTXFMHA_FIELD(SM100_SERIAL_HEAD_DIM_, KERNEL_NAME)
#define KERNEL_BLOCK_M       SM100_SERIAL_BLOCK_M
#define KERNEL_BLOCK_N       PTXFMHA_FIELD(SM100_SERIAL_BLOCK_N_, KERNEL_NAME)
#define KERNEL_STAGES        PTXFMHA_FIELD(SM100_SERIAL_STAGES_, KERNEL_NAME)
#define KERNEL_P_IN_SMEM     PTXFMHA_FIELD(SM100_SERIAL_P_IN_SMEM_, KERNEL_NAME)
#define KERNEL_THREADS       SM100_SERIAL_THREADS
#define KERNEL_SMEM_BYTES    PTXFMHA_FIELD(SM100_SERIAL_SMEM_, KERNEL_NAME)
#define KERNEL_PARAM_BYTES   FWD_PARAM_BYTES
#endif
