// Kernel manifest of the split-KV decode family (body: ptx/body/sm90_decode/, kernel.ptxh for
// the split kernels, combine.ptxh for their combine kernels), assembled for sm90a and, unchanged,
// for sm100a. C preprocessor only, valid for PTX and C++. One row per kernel:
//   - its stub ptx/<arch>/<name>.ptx defines KERNEL_NAME and includes this file, which turns the
//     row into the KERNEL_* facts (bottom of this file) the body and tests/ read;
//   - host/src/kernels_decode_rows.h expands the lists below into the kernel-table rows of each
//     architecture, with the split kernels' shared memory from the body's own layout
//     (SM90_DECODE_SMEM_BYTES, layout.ptxh).
// Adding a variant: ptx/STYLE.md, "Adding a kernel variant".
#ifndef PTXFMHA_MANIFEST_SM90_DECODE_H
#define PTXFMHA_MANIFEST_SM90_DECODE_H
#include "manifest.h"
#include "../body/sm90_decode/layout.ptxh"

// Family constants (the body checks them against its role table, roles.ptxh):
#define SM90_DECODE_THREADS         160     // split kernel: 4 consumer warps + 1 producer warp
#define SM90_DECODE_BLOCK_M         64      // packed query rows per CTA
#define SM90_DECODE_COMBINE_THREADS 32      // combine kernel: one warp (one CTA) per output row
#define SM90_DECODE_COMBINE_BLOCK_M 1       // one output row per CTA
#define SM90_DECODE_COMBINE_BLOCK_N 0       // no key tiles

// Split kernels. Columns: arch folder; head dim; K/V ring stages (the shared memory that fits
// more tiles in flight at head dim 64).
//                                      arch      D   STAGES
#define ROW_fmha_decode_d64_sm90a      (sm90a,    64,  4)
#define ROW_fmha_decode_d128_sm90a     (sm90a,   128,  3)
#define ROW_fmha_decode_d256_sm90a     (sm90a,   256,  3)
#define ROW_fmha_decode_d64_sm100a     (sm100a,   64,  4)
#define ROW_fmha_decode_d128_sm100a    (sm100a,  128,  3)
#define ROW_fmha_decode_d256_sm100a    (sm100a,  256,  3)
// Combine kernels. Columns: arch folder; head dim.
#define ROW_fmha_decode_combine_d64_sm90a    (sm90a,   64)
#define ROW_fmha_decode_combine_d128_sm90a   (sm90a,  128)
#define ROW_fmha_decode_combine_d256_sm90a   (sm90a,  256)
#define ROW_fmha_decode_combine_d64_sm100a   (sm100a,  64)
#define ROW_fmha_decode_combine_d128_sm100a  (sm100a, 128)
#define ROW_fmha_decode_combine_d256_sm100a  (sm100a, 256)

// The kernels of each architecture folder, in kernel-table order.
#define SM90_DECODE_KERNELS_sm90a(X)  X(fmha_decode_d64_sm90a) X(fmha_decode_d128_sm90a) X(fmha_decode_d256_sm90a)
#define SM90_DECODE_KERNELS_sm100a(X) X(fmha_decode_d64_sm100a) X(fmha_decode_d128_sm100a) X(fmha_decode_d256_sm100a)
#define SM90_DECODE_COMBINE_KERNELS_sm90a(X)                                                 \
    X(fmha_decode_combine_d64_sm90a) X(fmha_decode_combine_d128_sm90a) X(fmha_decode_combine_d256_sm90a)
#define SM90_DECODE_COMBINE_KERNELS_sm100a(X)                                                \
    X(fmha_decode_combine_d64_sm100a) X(fmha_decode_combine_d128_sm100a) X(fmha_decode_combine_d256_sm100a)

// Column pickers (PTXFMHA_FIELD(SM90_DECODE_<COLUMN>_, name)); SMEM_ is the layout's total.
#define SM90_DECODE_ARCH_(arch, d, st)              arch
#define SM90_DECODE_HEAD_DIM_(arch, d, st)          d
#define SM90_DECODE_STAGES_(arch, d, st)            st
#define SM90_DECODE_SMEM_(arch, d, st)              SM90_DECODE_SMEM_BYTES(d, st)
#define SM90_DECODE_COMBINE_ARCH_(arch, d)          arch
#define SM90_DECODE_COMBINE_HEAD_DIM_(arch, d)      d
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
#define KERNEL_BLOCK_M       SM90_DECODE_BLOCK_M
#define KERNEL_BLOCK_N       SM90_DECODE_BLOCK_N
#define KERNEL_THREADS       SM90_DECODE_THREADS
#define KERNEL_SMEM_BYTES    PTXFMHA_FIELD(SM90_DECODE_SMEM_, KERNEL_NAME)
#else
#define KERNEL_ARCH          PTXFMHA_FIELD(SM90_DECODE_COMBINE_ARCH_, KERNEL_NAME)
#define KERNEL_HEAD_DIM      PTXFMHA_FIELD(SM90_DECODE_COMBINE_HEAD_DIM_, KERNEL_NAME)
#define KERNEL_BLOCK_M       SM90_DECODE_COMBINE_BLOCK_M
#define KERNEL_BLOCK_N       SM90_DECODE_COMBINE_BLOCK_N
#define KERNEL_THREADS       SM90_DECODE_COMBINE_THREADS
#define KERNEL_SMEM_BYTES    0                       // no shared memory
#endif
#define KERNEL_TARGET        PTXFMHA_TARGET(KERNEL_ARCH)
#endif
