// Helpers of the kernel manifests (ptx/manifest/<family>.h). C preprocessor only and valid for
// both readers of a manifest: the PTX stubs (cpp -x assembler-with-cpp) and the host's kernel
// table (host/src/kernels_*.cpp, C++): nothing but #define of names and integer expressions.
#ifndef PTXFMHA_MANIFEST_H
#define PTXFMHA_MANIFEST_H

#define PTXFMHA_CAT(a, b)               PTXFMHA_CAT_(a, b)
#define PTXFMHA_CAT_(a, b)              a##b
#define PTXFMHA_APPLY(f, args)          f args
#define PTXFMHA_STR(x)                  PTXFMHA_STR_(x)
#define PTXFMHA_STR_(x)                 #x

// PTXFMHA_FIELD(pick, name): a column of kernel `name`'s row ROW_<name> (a parenthesised list),
// picked by a family's column macro, e.g. PTXFMHA_FIELD(SM90_FWD_HEAD_DIM_, fmha_fwd_d128_sm90a).
#define PTXFMHA_FIELD(pick, name)       PTXFMHA_APPLY(pick, PTXFMHA_CAT(ROW_, name))

// Architecture folders (ptx/<arch>/, the rows' arch column): ptxas target and the compute
// capability the kernels run on (major * 10 + minor).
#define PTXFMHA_TARGET_sm90a            sm_90a
#define PTXFMHA_TARGET_sm100a           sm_100a
#define PTXFMHA_SM_sm90a                90
#define PTXFMHA_SM_sm100a               100
#define PTXFMHA_TARGET(arch)            PTXFMHA_CAT(PTXFMHA_TARGET_, arch)
#define PTXFMHA_SM(arch)                PTXFMHA_CAT(PTXFMHA_SM_, arch)

// Dynamic shared memory: every kernel rounds its base up to 1024 bytes at run time (the repeat
// of the 128-byte swizzle pattern, so descriptors need no base offset); every row reserves
// this much slack on top of its map.
#define SMEM_ALIGN_SLACK                1024

#endif
