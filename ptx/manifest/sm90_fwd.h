// Kernel manifest of the Hopper forward family (body: ptx/body/sm90_fwd/). C preprocessor only,
// valid for PTX and C++. One row per kernel; everything about a kernel comes from its row:
//   - its stub ptx/<arch>/<name>.ptx defines KERNEL_NAME and includes this file, which turns the
//     row into the KERNEL_* facts (bottom of this file) that the body's config.ptxh names once
//     and that tests/ read (test_cpu_kernel_table.cpp);
//   - host/src/kernels_sm90a.cpp expands SM90_FWD_KERNELS into its kernel-table rows, with the
//     dynamic shared memory of the body's own layout (SM90_FWD_SMEM_BYTES, layout.ptxh).
// Adding a variant: ptx/STYLE.md, "Adding a kernel variant".
#ifndef PTXFMHA_MANIFEST_SM90_FWD_H
#define PTXFMHA_MANIFEST_SM90_FWD_H
#include "manifest.h"
#include "../include/fwd_params.ptxh"
#include "../body/sm90_fwd/layout.ptxh"

// Columns: arch folder; head dim; consumer warpgroups (64 query rows each); block_m (query rows
// per work tile, 64 x consumer warpgroups); block_n (keys per KV tile); K/V ring stages (2 or 4);
// threads (128 x (1 + consumer warpgroups)); variant: PLAIN (ptxfmha_fwd's kernels, the
// 640-byte FwdKernelParams), EXT (the serving features of ptxfmha_attn except paged K/V:
// variable length, seqused_k, window, softcap, sinks, ALiBi as runtime flags; the 768-byte
// AttnKernelParams of host/src/attn_kernel_abi.h) or PAGED (EXT plus K/V through a block
// table; a call without a table runs too). block_m and threads are stated, not derived: the
// body checks them against its role table (config.ptxh, roles.ptxh). Head dim 64 runs three
// consumer warpgroups and a 4-stage ring (roles.ptxh says why). What each variant changes
// and where: the design note of ptx/body/sm90_fwd/kernel.ptxh ("Serving features").
//                                       arch     D   WGS   BM    BN  STAGES THREADS VARIANT
#define ROW_fmha_fwd_d64_sm90a          (sm90a,   64,   3,  192,  128,    4,    512,  PLAIN)
#define ROW_fmha_fwd_d128_sm90a         (sm90a,  128,   2,  128,  128,    2,    384,  PLAIN)
#define ROW_fmha_fwd_d256_sm90a         (sm90a,  256,   2,  128,   64,    2,    384,  PLAIN)
#define ROW_fmha_fwd_d64_ext_sm90a      (sm90a,   64,   3,  192,  128,    4,    512,  EXT)
#define ROW_fmha_fwd_d128_ext_sm90a     (sm90a,  128,   2,  128,  128,    2,    384,  EXT)
#define ROW_fmha_fwd_d256_ext_sm90a     (sm90a,  256,   2,  128,   64,    2,    384,  EXT)
#define ROW_fmha_fwd_d64_paged_sm90a    (sm90a,   64,   3,  192,  128,    4,    512,  PAGED)
#define ROW_fmha_fwd_d128_paged_sm90a   (sm90a,  128,   2,  128,  128,    2,    384,  PAGED)
#define ROW_fmha_fwd_d256_paged_sm90a   (sm90a,  256,   2,  128,   64,    2,    384,  PAGED)

// The family's kernels in kernel-table order (find_kernel takes the first row of a head dim:
// the plain rows come first; ptxfmha_attn picks a feature row by its features).
#define SM90_FWD_KERNELS(X) X(fmha_fwd_d64_sm90a) X(fmha_fwd_d128_sm90a) X(fmha_fwd_d256_sm90a)        \
                            X(fmha_fwd_d64_ext_sm90a) X(fmha_fwd_d128_ext_sm90a)                       \
                            X(fmha_fwd_d256_ext_sm90a) X(fmha_fwd_d64_paged_sm90a)                     \
                            X(fmha_fwd_d128_paged_sm90a) X(fmha_fwd_d256_paged_sm90a)

// Variant codes (the VARIANT column) and each variant's parameter block (bytes).
#define SM90_FWD_VARIANT_PLAIN          0
#define SM90_FWD_VARIANT_EXT            1
#define SM90_FWD_VARIANT_PAGED          2
#define SM90_FWD_PARAM_BYTES_PLAIN      FWD_PARAM_BYTES
#define SM90_FWD_PARAM_BYTES_EXT        ATTN_PARAM_BYTES
#define SM90_FWD_PARAM_BYTES_PAGED      ATTN_PARAM_BYTES

// Column pickers (PTXFMHA_FIELD(SM90_FWD_<COLUMN>_, name)); SMEM_ and PARAM_BYTES_ are
// derived: the layout's total and the variant's parameter block.
#define SM90_FWD_ARCH_(arch, d, wgs, bm, bn, st, thr, v)           arch
#define SM90_FWD_HEAD_DIM_(arch, d, wgs, bm, bn, st, thr, v)       d
#define SM90_FWD_CONSUMER_WGS_(arch, d, wgs, bm, bn, st, thr, v)   wgs
#define SM90_FWD_BLOCK_M_(arch, d, wgs, bm, bn, st, thr, v)        bm
#define SM90_FWD_BLOCK_N_(arch, d, wgs, bm, bn, st, thr, v)        bn
#define SM90_FWD_KV_STAGES_(arch, d, wgs, bm, bn, st, thr, v)      st
#define SM90_FWD_THREADS_(arch, d, wgs, bm, bn, st, thr, v)        thr
#define SM90_FWD_VARIANT_(arch, d, wgs, bm, bn, st, thr, v)        PTXFMHA_CAT(SM90_FWD_VARIANT_, v)
#define SM90_FWD_SMEM_(arch, d, wgs, bm, bn, st, thr, v)                                       \
    SM90_FWD_SMEM_BYTES(d, bm, bn, st, PTXFMHA_CAT(SM90_FWD_VARIANT_, v))
#define SM90_FWD_PARAM_BYTES_(arch, d, wgs, bm, bn, st, thr, v)   PTXFMHA_CAT(SM90_FWD_PARAM_BYTES_, v)
#endif

// The facts of the including stub's kernel, once (tests/ read them with cpp).
#if defined(KERNEL_NAME) && !defined(KERNEL_HEAD_DIM)
#define KERNEL_ARCH          PTXFMHA_FIELD(SM90_FWD_ARCH_, KERNEL_NAME)
#define KERNEL_TARGET        PTXFMHA_TARGET(KERNEL_ARCH)
#define KERNEL_HEAD_DIM      PTXFMHA_FIELD(SM90_FWD_HEAD_DIM_, KERNEL_NAME)
#define KERNEL_CONSUMER_WGS  PTXFMHA_FIELD(SM90_FWD_CONSUMER_WGS_, KERNEL_NAME)
#define KERNEL_BLOCK_M       PTXFMHA_FIELD(SM90_FWD_BLOCK_M_, KERNEL_NAME)
#define KERNEL_BLOCK_N       PTXFMHA_FIELD(SM90_FWD_BLOCK_N_, KERNEL_NAME)
#define KERNEL_KV_STAGES     PTXFMHA_FIELD(SM90_FWD_KV_STAGES_, KERNEL_NAME)
#define KERNEL_THREADS       PTXFMHA_FIELD(SM90_FWD_THREADS_, KERNEL_NAME)
#define KERNEL_VARIANT       PTXFMHA_FIELD(SM90_FWD_VARIANT_, KERNEL_NAME)
#define KERNEL_SMEM_BYTES    PTXFMHA_FIELD(SM90_FWD_SMEM_, KERNEL_NAME)
#define KERNEL_PARAM_BYTES   PTXFMHA_FIELD(SM90_FWD_PARAM_BYTES_, KERNEL_NAME)
#endif
