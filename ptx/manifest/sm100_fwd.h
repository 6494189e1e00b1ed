// Kernel manifest of the two-tile Blackwell forward family (body: ptx/body/sm100_fwd/, issue 13).
// C preprocessor only, valid for PTX and C++. One row per kernel:
//   - its stub ptx/sm100a/<name>.ptx defines KERNEL_NAME and includes this file, which turns the
//     row into the KERNEL_* facts (bottom of this file) the body and tests/ read;
//   - host/src/kernels_sm100a.cpp expands SM100_FWD_KERNELS into its kernel-table rows (first, so
//     that ptxfmha_fwd picks them on compute capability 10.0), with the shared memory of the
//     body's own layout (SM100_FWD_SMEM_BYTES, layout.ptxh).
// Adding a variant: ptx/STYLE.md, "Adding a kernel variant".
#ifndef PTXFMHA_MANIFEST_SM100_FWD_H
#define PTXFMHA_MANIFEST_SM100_FWD_H
#include "manifest.h"
#include "../include/fwd_params.ptxh"
#include "../body/sm100_fwd/layout.ptxh"

// Columns: arch folder; head dim; Q tiles of 128 rows per CTA tile (2: two softmax warpgroups
// ping-pong on one K/V stream; 1 at head dim 256, where two 256-column O tiles leave TMEM no room
// for S: docs/sm100_fwd_design.md section 2); block_n (keys per KV tile); K/V ring slots (each
// holds one K or one V tile); threads (128 x (Q tiles + 2): softmax warpgroup(s), the correction
// warpgroup, the MMA/TMA warpgroup). Threads are stated (.maxntid takes a literal) and checked
// against the role table (roles.ptxh). Variant: PLAIN (ptxfmha_fwd's kernels, the 640-byte
// FwdKernelParams) or EXT (issue 14: the serving features of ptxfmha_attn as runtime flags:
// variable-length Q and K, sliding window with band skipping, softcap, sinks, ALiBi; the
// 768-byte AttnKernelParams of host/src/attn_kernel_abi.h). The same body: the plain rows expand
// every feature hook to their own code (config.ptxh), so their instructions do not change
// (tools/sass-diff.sh). What the EXT variant changes and where: ptx/body/sm100_fwd/features.ptxh.
//                                     arch     D  QT   BN  SLOTS THREADS VARIANT
#define ROW_fmha_fwd_d64_sm100a       (sm100a,  64,  2, 128,    8,    512,  PLAIN)
#define ROW_fmha_fwd_d128_sm100a      (sm100a, 128,  2, 128,    4,    512,  PLAIN)
#define ROW_fmha_fwd_d256_sm100a      (sm100a, 256,  1,  64,    3,    384,  PLAIN)
#define ROW_fmha_fwd_d64_ext_sm100a   (sm100a,  64,  2, 128,    8,    512,  EXT)
#define ROW_fmha_fwd_d128_ext_sm100a  (sm100a, 128,  2, 128,    4,    512,  EXT)
#define ROW_fmha_fwd_d256_ext_sm100a  (sm100a, 256,  1,  64,    3,    384,  EXT)

// The family's kernels in kernel-table order (find_kernel takes the first row of a head dim: the
// plain rows come first; ptxfmha_attn picks a feature row by its features).
#define SM100_FWD_KERNELS(X) X(fmha_fwd_d64_sm100a) X(fmha_fwd_d128_sm100a) X(fmha_fwd_d256_sm100a) \
                             X(fmha_fwd_d64_ext_sm100a) X(fmha_fwd_d128_ext_sm100a)                 \
                             X(fmha_fwd_d256_ext_sm100a)

// Variant codes (the VARIANT column) and each variant's parameter block (bytes).
#define SM100_FWD_VARIANT_PLAIN         0
#define SM100_FWD_VARIANT_EXT           1
#define SM100_FWD_PARAM_BYTES_PLAIN     FWD_PARAM_BYTES
#define SM100_FWD_PARAM_BYTES_EXT       ATTN_PARAM_BYTES

// Column pickers (PTXFMHA_FIELD(SM100_FWD_<COLUMN>_, name)); BLOCK_M_, SMEM_ and PARAM_BYTES_ are
// derived.
#define SM100_FWD_ARCH_(arch, d, qt, bn, r, thr, v)        arch
#define SM100_FWD_HEAD_DIM_(arch, d, qt, bn, r, thr, v)    d
#define SM100_FWD_Q_TILES_(arch, d, qt, bn, r, thr, v)     qt
#define SM100_FWD_BLOCK_M_(arch, d, qt, bn, r, thr, v)     SM100_FWD_BLOCK_M(qt)
#define SM100_FWD_BLOCK_N_(arch, d, qt, bn, r, thr, v)     bn
#define SM100_FWD_KV_SLOTS_(arch, d, qt, bn, r, thr, v)    r
#define SM100_FWD_THREADS_(arch, d, qt, bn, r, thr, v)     thr
#define SM100_FWD_VARIANT_(arch, d, qt, bn, r, thr, v)     PTXFMHA_CAT(SM100_FWD_VARIANT_, v)
#define SM100_FWD_SMEM_(arch, d, qt, bn, r, thr, v)        SM100_FWD_SMEM_BYTES(d, qt, bn, r)
#define SM100_FWD_PARAM_BYTES_(arch, d, qt, bn, r, thr, v) PTXFMHA_CAT(SM100_FWD_PARAM_BYTES_, v)
#endif

// The facts of the including stub's kernel, once (tests/ read them with cpp).
#if defined(KERNEL_NAME) && !defined(KERNEL_HEAD_DIM)
#define KERNEL_PARAM         PTXFMHA_CAT(KERNEL_NAME, _param)   // the .param block's name
#define KERNEL_ARCH          PTXFMHA_FIELD(SM100_FWD_ARCH_, KERNEL_NAME)
#define KERNEL_TARGET        PTXFMHA_TARGET(KERNEL_ARCH)
#define KERNEL_HEAD_DIM      PTXFMHA_FIELD(SM100_FWD_HEAD_DIM_, KERNEL_NAME)
#define KERNEL_Q_TILES       PTXFMHA_FIELD(SM100_FWD_Q_TILES_, KERNEL_NAME)
#define KERNEL_BLOCK_M       PTXFMHA_FIELD(SM100_FWD_BLOCK_M_, KERNEL_NAME)
#define KERNEL_BLOCK_N       PTXFMHA_FIELD(SM100_FWD_BLOCK_N_, KERNEL_NAME)
#define KERNEL_KV_SLOTS      PTXFMHA_FIELD(SM100_FWD_KV_SLOTS_, KERNEL_NAME)
#define KERNEL_THREADS       PTXFMHA_FIELD(SM100_FWD_THREADS_, KERNEL_NAME)
#define KERNEL_VARIANT       PTXFMHA_FIELD(SM100_FWD_VARIANT_, KERNEL_NAME)
#define KERNEL_SMEM_BYTES    PTXFMHA_FIELD(SM100_FWD_SMEM_, KERNEL_NAME)
#define KERNEL_PARAM_BYTES   PTXFMHA_FIELD(SM100_FWD_PARAM_BYTES_, KERNEL_NAME)
#endif
