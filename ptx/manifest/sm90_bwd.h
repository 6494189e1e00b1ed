// Kernel manifest of the Hopper backward family (bodies: ptx/body/sm90_bwd/). C preprocessor
// only, valid for PTX and C++. One row per kernel; everything about a kernel comes from its row:
//   - its stub ptx/<arch>/<name>.ptx defines KERNEL_NAME and includes this file, which turns the
//     row into the KERNEL_* facts (bottom of this file) that the body's config.ptxh names once
//     and that tests/ read (test_cpu_kernel_table.cpp);
//   - host/src/kernels_bwd_sm90a.cpp expands SM90_BWD_KERNELS into its kernel-table rows, with
//     the main kernels' dynamic shared memory from the body's own layout (SM90_BWD_SMEM_BYTES,
//     layout.ptxh).
// One ptxfmha_bwd call runs a PRE, a MAIN and a POST row of its head dim in stream order
// (host/src/bwd.h); they share block_m (the m-blocks of the dQ accumulator).
// Adding a variant: ptx/STYLE.md, "Adding a kernel variant".
#ifndef PTXFMHA_MANIFEST_SM90_BWD_H
#define PTXFMHA_MANIFEST_SM90_BWD_H
#include "manifest.h"
#include "../body/sm90_bwd/layout.ptxh"

// Columns: arch folder; role (PRE: fmha_bwd_pre, pre.ptxh; MAIN: the main kernel, kernel.ptxh;
// POST: fmha_bwd_post, post.ptxh; DSINK: fmha_bwd_dsink, dsink.ptxh); head dim; block_m (query rows per m-block); block_n (keys
// per main-kernel CTA; the split of layout.ptxh follows from it); stages (Q/dO ring of the main
// kernel, 0 for PRE and POST); threads; variant (PLAIN, or EXT: a main kernel with the serving
// features window / softcap / ALiBi, ptx/body/sm90_bwd/features.ptxh, picked by ptxfmha_bwd
// when a call uses one of them). The body checks threads and the tile combination
// against its role table and config.ptxh (#error). Variants (a suffix after the head dim) come
// after the defaults: find_kernel takes the first row of a head dim; the bench and the tests
// pick a variant by name (ptxfmha_bench --ptxfmha_bwd_kernel=NAME). A MAIN variant keeps its
// head dim's block_m and dQ split (layout.ptxh), so the head dim's PRE and POST rows serve it.
//                                    arch    role   D    BM   BN  ST  THR  VARIANT
#define ROW_fmha_bwd_pre_d64_sm90a    (sm90a, PRE,   64, 128, 128, 0, 256, PLAIN)
#define ROW_fmha_bwd_pre_d128_sm90a   (sm90a, PRE,  128,  64, 128, 0, 256, PLAIN)
#define ROW_fmha_bwd_pre_d256_sm90a   (sm90a, PRE,  256,  64,  64, 0, 256, PLAIN)
#define ROW_fmha_bwd_d64_sm90a        (sm90a, MAIN,  64, 128, 128, 2, 384, PLAIN)
#define ROW_fmha_bwd_d128_sm90a       (sm90a, MAIN, 128,  64, 128, 2, 384, PLAIN)
#define ROW_fmha_bwd_d256_sm90a       (sm90a, MAIN, 256,  64,  64, 1, 384, PLAIN)
#define ROW_fmha_bwd_post_d64_sm90a   (sm90a, POST,  64, 128, 128, 0, 256, PLAIN)
#define ROW_fmha_bwd_post_d128_sm90a  (sm90a, POST, 128,  64, 128, 0, 256, PLAIN)
#define ROW_fmha_bwd_post_d256_sm90a  (sm90a, POST, 256,  64,  64, 0, 256, PLAIN)
// Variant (timing decides; not picked by default): head dim 128 with the query split, 64 keys
// per CTA (twice the CTAs, P^T through shared memory, 165952 bytes of shared memory).
#define ROW_fmha_bwd_d128_n64_sm90a   (sm90a, MAIN, 128,  64,  64, 2, 384, PLAIN)
// The serving-feature (EXT) main kernels: the tiles of their head dim's default row, so the
// head dim's PRE and POST rows serve them.
#define ROW_fmha_bwd_d64_ext_sm90a    (sm90a, MAIN,  64, 128, 128, 2, 384, EXT)
#define ROW_fmha_bwd_d128_ext_sm90a   (sm90a, MAIN, 128,  64, 128, 2, 384, EXT)
#define ROW_fmha_bwd_d256_ext_sm90a   (sm90a, MAIN, 256,  64,  64, 1, 384, EXT)
// d_sink (ptx/body/sm90_bwd/dsink.ptxh): one CTA per query head over the workspace's rows; no
// head dim, no tiles (0 in those columns). A post-phase row of the kernel table (kind BwdPost,
// head dim 0: find_kernel of a head dim never returns it).
#define ROW_fmha_bwd_dsink_sm90a      (sm90a, DSINK,  0,   0,   0, 0, 256, PLAIN)

// The family's kernels in kernel-table order.
#define SM90_BWD_KERNELS(X)                                                                    \
    X(fmha_bwd_pre_d64_sm90a) X(fmha_bwd_pre_d128_sm90a) X(fmha_bwd_pre_d256_sm90a)            \
    X(fmha_bwd_d64_sm90a) X(fmha_bwd_d128_sm90a) X(fmha_bwd_d256_sm90a)                        \
    X(fmha_bwd_post_d64_sm90a) X(fmha_bwd_post_d128_sm90a) X(fmha_bwd_post_d256_sm90a)         \
    X(fmha_bwd_d128_n64_sm90a)                                                                  \
    X(fmha_bwd_d64_ext_sm90a) X(fmha_bwd_d128_ext_sm90a) X(fmha_bwd_d256_ext_sm90a)         \
    X(fmha_bwd_dsink_sm90a)

// Column pickers (PTXFMHA_FIELD(SM90_BWD_<COLUMN>_, name)); SMEM_ is derived: the layout's
// total for MAIN rows, none for PRE and POST.
#define SM90_BWD_ARCH_(arch, role, d, bm, bn, st, thr, v)          arch
#define SM90_BWD_ROLE_(arch, role, d, bm, bn, st, thr, v)          role
#define SM90_BWD_HEAD_DIM_(arch, role, d, bm, bn, st, thr, v)      d
#define SM90_BWD_BLOCK_M_(arch, role, d, bm, bn, st, thr, v)       bm
#define SM90_BWD_BLOCK_N_(arch, role, d, bm, bn, st, thr, v)       bn
#define SM90_BWD_STAGES_(arch, role, d, bm, bn, st, thr, v)        st
#define SM90_BWD_THREADS_(arch, role, d, bm, bn, st, thr, v)       thr
#define SM90_BWD_SMEM_(arch, role, d, bm, bn, st, thr, v)          SM90_BWD_SMEM_##role(d, bm, bn, st)
#define SM90_BWD_VARIANT_(arch, role, d, bm, bn, st, thr, v)   PTXFMHA_CAT(SM90_BWD_VARIANT_, v)
#define SM90_BWD_VARIANT_PLAIN                                  0
#define SM90_BWD_VARIANT_EXT                                    1
#define SM90_BWD_SMEM_PRE(d, bm, bn, st)                        0
#define SM90_BWD_SMEM_POST(d, bm, bn, st)                       0
#define SM90_BWD_SMEM_DSINK(d, bm, bn, st)                      0
#define SM90_BWD_SMEM_MAIN(d, bm, bn, st)                       SM90_BWD_SMEM_BYTES(d, bm, bn, st)
#endif

// The facts of the including stub's kernel, once (tests/ read them with cpp).
#if defined(KERNEL_NAME) && !defined(KERNEL_HEAD_DIM)
#include "../include/bwd_params.ptxh"
#define KERNEL_ARCH          PTXFMHA_FIELD(SM90_BWD_ARCH_, KERNEL_NAME)
#define KERNEL_TARGET        PTXFMHA_TARGET(KERNEL_ARCH)
#define KERNEL_HEAD_DIM      PTXFMHA_FIELD(SM90_BWD_HEAD_DIM_, KERNEL_NAME)
#define KERNEL_BLOCK_M       PTXFMHA_FIELD(SM90_BWD_BLOCK_M_, KERNEL_NAME)
#define KERNEL_BLOCK_N       PTXFMHA_FIELD(SM90_BWD_BLOCK_N_, KERNEL_NAME)
#define KERNEL_STAGES        PTXFMHA_FIELD(SM90_BWD_STAGES_, KERNEL_NAME)
#define KERNEL_THREADS       PTXFMHA_FIELD(SM90_BWD_THREADS_, KERNEL_NAME)
#define KERNEL_SMEM_BYTES    PTXFMHA_FIELD(SM90_BWD_SMEM_, KERNEL_NAME)
#define KERNEL_PARAM_BYTES   BWD_PARAM_BYTES
#define KERNEL_EXT           PTXFMHA_FIELD(SM90_BWD_VARIANT_, KERNEL_NAME)
#endif
