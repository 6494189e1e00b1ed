/*
 * ptx-fmha public C ABI.
 *
 * Fused multi-head attention forward (prefill) and decode kernels written in
 * PTX, driven through the CUDA Driver API. Every entry point validates its
 * arguments before anything is launched; on failure nothing is written and a
 * specific status is returned, with a message naming the bad argument in
 * ptxfmha_last_error().
 *
 * Tensors (bf16 unless said otherwise), element strides, head_dim contiguous:
 *   Q [batch, seqlen_q, heads_q,  head_dim]
 *   K [batch, seqlen_k, heads_kv, head_dim]
 *   V [batch, seqlen_k, heads_kv, head_dim]
 *   O [batch, seqlen_q, heads_q,  head_dim]
 *   LSE (optional, fp32, contiguous) [batch, heads_q, seqlen_q], natural log.
 * GQA: heads_q % heads_kv == 0; query head h reads KV head h / (heads_q/heads_kv).
 *
 * Causal masking is bottom-right aligned (FlashAttention >= 2.1, cuDNN's
 * bottom-right diagonal): query row i sees keys j <= i + seqlen_k - seqlen_q.
 * A row that sees no key gets O = 0 and LSE = -inf.
 *
 * Thread safety: every entry point may be called concurrently from several
 * host threads; the module cache is guarded internally.
 */
#ifndef PTXFMHA_H
#define PTXFMHA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define PTXFMHA_API __declspec(dllexport)
#else
#define PTXFMHA_API __attribute__((visibility("default")))
#endif

typedef enum ptxfmha_status {
  PTXFMHA_OK = 0,
  PTXFMHA_ERR_NULL_POINTER = 1,        /* a required pointer is NULL */
  PTXFMHA_ERR_MISALIGNED_POINTER = 2,  /* a tensor pointer is not 16-byte aligned */
  PTXFMHA_ERR_UNSUPPORTED_HEAD_DIM = 3,/* no kernel for this head_dim on this device */
  PTXFMHA_ERR_INVALID_SIZE = 4,        /* a size is zero or negative */
  PTXFMHA_ERR_SIZE_OVERFLOW = 5,       /* a size or extent overflows what the kernel indexes */
  PTXFMHA_ERR_GQA_RATIO = 6,           /* heads_q is not a multiple of heads_kv */
  PTXFMHA_ERR_INVALID_STRIDE = 7,      /* strides overlap, are not 16-byte multiples, or head_dim not contiguous */
  PTXFMHA_ERR_ALIASING = 8,            /* the output overlaps an input */
  PTXFMHA_ERR_INVALID_SCALE = 9,       /* softmax scale is NaN, infinite or <= 0 */
  PTXFMHA_ERR_NO_DRIVER = 10,          /* libcuda could not be loaded or cuInit failed */
  PTXFMHA_ERR_NO_DEVICE = 11,          /* no CUDA device / no current context */
  PTXFMHA_ERR_UNSUPPORTED_ARCH = 12,   /* the device's architecture has no kernels */
  PTXFMHA_ERR_CUBIN_MISSING = 13,      /* the cubin file for the selected kernel does not exist */
  PTXFMHA_ERR_CUBIN_WRONG_ARCH = 14,   /* the cubin was built for another architecture */
  PTXFMHA_ERR_CUBIN_INVALID = 15,      /* the cubin file is corrupt or lacks the kernel symbol */
  PTXFMHA_ERR_CUDA = 16,               /* a CUDA driver call failed (message has the CUresult) */
  PTXFMHA_ERR_INVALID_PAGE_TABLE = 17, /* decode: page size / block table out of range */
  PTXFMHA_ERR_INVALID_ARGUMENT = 18    /* any other invalid argument (message says which) */
} ptxfmha_status;

/* Forward (prefill) attention. Strides are in elements. */
typedef struct ptxfmha_fwd_params {
  const void* q;   /* bf16 device pointer */
  const void* k;
  const void* v;
  void* o;
  float* lse;      /* optional: NULL = not written */

  int64_t q_batch_stride, q_seq_stride, q_head_stride;
  int64_t k_batch_stride, k_seq_stride, k_head_stride;
  int64_t v_batch_stride, v_seq_stride, v_head_stride;
  int64_t o_batch_stride, o_seq_stride, o_head_stride;

  int32_t batch;
  int32_t seqlen_q;
  int32_t seqlen_k;
  int32_t heads_q;
  int32_t heads_kv;
  int32_t head_dim;
  float softmax_scale; /* usually 1/sqrt(head_dim) */
  int32_t causal;      /* 0 or 1, bottom-right aligned */
  void* stream;        /* CUstream; NULL = the legacy default stream */
} ptxfmha_fwd_params;

/* Decode attention: a few query tokens per sequence against a (paged) KV cache.
 * Q/O   [batch, seqlen_q, heads_q, head_dim] with strides as in fwd.
 * K/V cache: if block_table == NULL, contiguous [batch, max_seqlen_k, heads_kv, head_dim]
 *   with the given strides; else paged [num_pages, page_size, heads_kv, head_dim] where
 *   k_batch_stride is the page stride, and block_table[b * max_blocks_per_seq + i]
 *   is the page holding tokens [i*page_size, (i+1)*page_size) of sequence b.
 * seqlens_k: optional int32 device array [batch] of per-sequence cache lengths;
 *   NULL means every sequence has max_seqlen_k keys. */
typedef struct ptxfmha_decode_params {
  const void* q;
  const void* k_cache;
  const void* v_cache;
  void* o;
  float* lse;                  /* optional */
  const int32_t* seqlens_k;    /* optional device array [batch] */
  const int32_t* block_table;  /* optional device array [batch, max_blocks_per_seq] */

  int64_t q_batch_stride, q_seq_stride, q_head_stride;
  int64_t k_batch_stride, k_seq_stride, k_head_stride;
  int64_t v_batch_stride, v_seq_stride, v_head_stride;
  int64_t o_batch_stride, o_seq_stride, o_head_stride;

  int32_t batch;
  int32_t seqlen_q;            /* 1..8 */
  int32_t max_seqlen_k;
  int32_t heads_q;
  int32_t heads_kv;
  int32_t head_dim;
  int32_t page_size;           /* tokens per page when paged; ignored otherwise */
  int32_t max_blocks_per_seq;  /* columns of block_table */
  int32_t num_pages;           /* pages in the cache, for validation of host-visible tables */
  float softmax_scale;
  int32_t causal;              /* causal among the new query tokens, bottom-right */
  int32_t num_splits;          /* 0 = chosen by the library */
  void* workspace;             /* device scratch from ptxfmha_decode_workspace_size; may be NULL if that is 0 */
  uint64_t workspace_bytes;
  void* stream;
} ptxfmha_decode_params;

PTXFMHA_API ptxfmha_status ptxfmha_fwd(const ptxfmha_fwd_params* params);
PTXFMHA_API ptxfmha_status ptxfmha_decode(const ptxfmha_decode_params* params);
/* Bytes of device workspace ptxfmha_decode needs for these params (split-KV partials). */
PTXFMHA_API ptxfmha_status ptxfmha_decode_workspace_size(const ptxfmha_decode_params* params,
                                                        uint64_t* bytes);

/* ---- Backward (training): dQ, dK, dV of attention --------------------------------------
 * Inputs: Q, K, V, O, dO (bf16, layouts and strides as in ptxfmha_fwd) and the forward's
 * LSE (fp32, contiguous [batch, heads_q, seqlen_q], natural log; -inf for a row that sees no
 * key). Outputs: dQ [batch, seqlen_q, heads_q, head_dim], dK and dV [batch, seqlen_k,
 * heads_kv, head_dim], bf16, each with its own element strides. With GQA, dK and dV of a KV
 * head are the sums over the query heads that read it. Causal masking is bottom-right
 * aligned as in the forward; rows that see no key contribute nothing.
 * The parameter block is extensible: struct_size comes first and must be set (call
 * ptxfmha_bwd_params_init, then fill in the fields). A caller built against a newer header
 * may pass a larger struct_size as long as every field this library does not know is zero.
 * workspace: device memory of at least ptxfmha_bwd_workspace_size() bytes, 16-byte aligned,
 * not shared with a concurrent call (fp32 dQ accumulator, D = rowsum(dO * O), the LSE in the
 * log2 domain, semaphores). Its contents need no initialisation; they are garbage after.
 * deterministic = 1: dQ is summed in a fixed order (bitwise identical results across runs);
 * 0: dQ partial sums are added to the fp32 accumulator in whatever order they arrive (faster;
 * results may differ in the last bits between runs). dK and dV are deterministic either way. */
typedef struct ptxfmha_bwd_params {
  uint64_t struct_size;  /* sizeof(ptxfmha_bwd_params) the caller was built with */

  const void* q;         /* bf16 device pointers */
  const void* k;
  const void* v;
  const void* o;         /* the forward's output */
  const void* dout;      /* dO, the gradient of the loss with respect to O */
  const float* lse;      /* fp32 [batch, heads_q, seqlen_q], contiguous, natural log */
  void* dq;
  void* dk;
  void* dv;

  int64_t q_batch_stride, q_seq_stride, q_head_stride;
  int64_t k_batch_stride, k_seq_stride, k_head_stride;
  int64_t v_batch_stride, v_seq_stride, v_head_stride;
  int64_t o_batch_stride, o_seq_stride, o_head_stride;
  int64_t dout_batch_stride, dout_seq_stride, dout_head_stride;
  int64_t dq_batch_stride, dq_seq_stride, dq_head_stride;
  int64_t dk_batch_stride, dk_seq_stride, dk_head_stride;
  int64_t dv_batch_stride, dv_seq_stride, dv_head_stride;

  int32_t batch;
  int32_t seqlen_q;
  int32_t seqlen_k;
  int32_t heads_q;
  int32_t heads_kv;
  int32_t head_dim;
  float softmax_scale;   /* the forward's scale; 0 (the default) = 1/sqrt(head_dim) */
  int32_t causal;        /* 0 or 1, bottom-right aligned */
  int32_t deterministic; /* 0 (default) or 1 */
  int32_t reserved0;     /* must be 0 */
  void* workspace;       /* device scratch, see ptxfmha_bwd_workspace_size */
  uint64_t workspace_bytes;
  void* stream;          /* CUstream; NULL = the legacy default stream */
} ptxfmha_bwd_params;

/* Zeroes *params and sets struct_size = sizeof(ptxfmha_bwd_params) (defaults: softmax_scale
 * 0 = 1/sqrt(head_dim), causal 0, deterministic 0, stream NULL). NULL is ignored. */
PTXFMHA_API void ptxfmha_bwd_params_init(ptxfmha_bwd_params* params);
PTXFMHA_API ptxfmha_status ptxfmha_bwd(const ptxfmha_bwd_params* params);
/* Bytes of device workspace ptxfmha_bwd needs for these params. Depends only on batch,
 * heads_q, seqlen_q and head_dim (no device is needed to compute it); every other argument is
 * validated as by ptxfmha_bwd, except the workspace itself and the device. */
PTXFMHA_API ptxfmha_status ptxfmha_bwd_workspace_size(const ptxfmha_bwd_params* params,
                                                     uint64_t* bytes);

/* Short fixed description of a status. */
PTXFMHA_API const char* ptxfmha_status_string(ptxfmha_status status);
/* Detailed message of the last failing call on this thread ("" if none). */
PTXFMHA_API const char* ptxfmha_last_error(void);

/* Directory holding <arch>/<kernel>.cubin. Default: $PTXFMHA_CUBIN_DIR, else the
 * build directory compiled in. NULL restores the default. Takes effect for
 * contexts whose modules are not loaded yet. */
PTXFMHA_API ptxfmha_status ptxfmha_set_cubin_dir(const char* dir);
PTXFMHA_API const char* ptxfmha_get_cubin_dir(void);

PTXFMHA_API const char* ptxfmha_version(void);

#ifdef __cplusplus
}
#endif
#endif /* PTXFMHA_H */
