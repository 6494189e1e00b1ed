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
  PTXFMHA_ERR_INVALID_ARGUMENT = 18,   /* any other invalid argument (message says which) */
  PTXFMHA_ERR_UNSUPPORTED_FEATURE = 19,/* a valid feature combination has no kernel on this device yet */
  PTXFMHA_ERR_INVALID_METADATA = 20    /* ptxfmha_check_metadata: cu_seqlens / seqused_k content is invalid */
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
 * key); variable-length (packed) batches as ptxfmha_attn_params (version 2 fields below). Outputs: dQ [batch, seqlen_q, heads_q, head_dim], dK and dV [batch, seqlen_k,
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
 * 0: the first dQ partial sum of each tile is stored, the others are added to the fp32
 * accumulator in whatever order they arrive (results may differ in the last bits between
 * runs). dK and dV are deterministic either way. */
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

  /* ---- version 2 (PTXFMHA_BWD_PARAMS_SIZE_V2): the serving features of ptxfmha_attn_params,
   * with the meanings of "Visibility" and "Scores and softmax" below (lse is the LSE the
   * forward wrote with the same features; with sinks it includes the sink term). A block of
   * version 1 (struct_size PTXFMHA_BWD_PARAMS_SIZE_V1) gets the defaults: no window, no
   * softcap, no ALiBi, no sinks, fixed lengths. Checked before any launch: window sides >= -1,
   * causal 1 with window_right -1 or 0, softcap finite >= 0, reserved1 0, the arrays 4-byte
   * aligned, d_sink only with sink_logits and overlapping no other argument. */
  int32_t window_left;           /* -1 = unbounded (ptxfmha_bwd_params_init's default) */
  int32_t window_right;          /* -1 = unbounded (default); causal = window_right 0 */
  float softcap;                 /* 0 = off */
  int32_t reserved1;             /* must be 0 */
  const float* alibi_slopes;     /* optional fp32 device [heads_q] */
  const float* sink_logits;      /* optional fp32 device [heads_q]: as the forward's */
  float* d_sink;                 /* optional fp32 device [heads_q] output: dL / d sink_logits
                                    = -sum over the rows of head h of exp(sink_h - LSE) D, with
                                    D = rowsum(dO * O); needs sink_logits */
  /* variable length, with the fields, rules and clamping of ptxfmha_attn_params ("Sequences
   * and lengths", "Device-resident metadata", the length rules of "Rules checked"):
   * cu_seqlens_q: Q, O, dO, dQ packed [total_q, heads_q, head_dim] (their batch strides 0) and
   * lse [heads_q, total_q] as the forward wrote it; cu_seqlens_k: K, V, dK, dV packed
   * [total_k, heads_kv, head_dim] (batch strides 0); seqlen_q / seqlen_k 0 on a packed side;
   * max_seqlen_q / max_seqlen_k size the grids. Each sequence is its own problem (causal and
   * the window bottom-right per sequence, GQA within it). seqused_k (with packed or fixed K):
   * len_k(b) keys are present; dK / dV rows from len_k(b) to cap_k(b) are not written (they
   * are no keys), and K / V there are read only as the padding of a tile (they must be
   * finite; they never change a result). A sequence with no query rows gets dK = dV = 0 on
   * its keys, one with no keys dQ = 0; rows of no sequence are not written. The workspace
   * grows with total_q + 128 * batch rows per query head (ptxfmha_bwd_workspace_size).
   * ptxfmha_check_bwd_metadata checks the arrays' contents. */
  const int32_t* cu_seqlens_q;
  const int32_t* cu_seqlens_k;
  const int32_t* seqused_k;
  int32_t max_seqlen_q;
  int32_t max_seqlen_k;
  int32_t total_q;
  int32_t total_k;
} ptxfmha_bwd_params;

/* struct_size of each version of ptxfmha_bwd_params (the library accepts any of them, and a
 * larger block whose bytes past its own are 0). */
#define PTXFMHA_BWD_PARAMS_SIZE_V1 336u
#define PTXFMHA_BWD_PARAMS_SIZE_V2 416u

/* Zeroes *params and sets struct_size = sizeof(ptxfmha_bwd_params) (defaults: softmax_scale
 * 0 = 1/sqrt(head_dim), causal 0, deterministic 0, stream NULL, window_left = window_right =
 * -1, every other feature off). NULL is ignored. */
PTXFMHA_API void ptxfmha_bwd_params_init(ptxfmha_bwd_params* params);
PTXFMHA_API ptxfmha_status ptxfmha_bwd(const ptxfmha_bwd_params* params);
/* Bytes of device workspace ptxfmha_bwd needs for these params. Depends only on batch,
 * heads_q, head_dim and seqlen_q (packed Q: total_q) (no device is needed to compute it); every
 * other argument is validated as by ptxfmha_bwd, except the workspace itself and the device. */
PTXFMHA_API ptxfmha_status ptxfmha_bwd_workspace_size(const ptxfmha_bwd_params* params,
                                                     uint64_t* bytes);
/* ptxfmha_check_metadata for the backward: validates the params as ptxfmha_bwd does (the
 * workspace excepted), waits for params->stream, copies cu_seqlens_q, cu_seqlens_k and
 * seqused_k to the host and checks them with ptxfmha_check_metadata's rules
 * (INVALID_METADATA, the message naming the first bad entry). */
PTXFMHA_API ptxfmha_status ptxfmha_check_bwd_metadata(const ptxfmha_bwd_params* params);

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

/* ==========================================================================================
 * Extensible attention API: variable-length batches, paged KV for prefill, sliding window,
 * logit softcap, attention sinks, ALiBi; prefill (ptxfmha_attn) and decode
 * (ptxfmha_decode_attn).
 *
 * Versioning. Each parameter block starts with its own size, struct_size. Fill it with
 * ptxfmha_attn_params_init(&p) (or ptxfmha_decode_attn_params_init), which writes
 * struct_size = sizeof the block as *your* header declares it and every default, then set
 * the fields you use. Later versions only append fields, and every appended field has 0 as
 * its "off" value, so:
 *   - a caller built against an older header passes a smaller struct_size: the library
 *     reads that prefix and uses the defaults for the rest;
 *   - a caller built against a newer header passes a larger struct_size: accepted only when
 *     every byte past the fields this library knows is 0 (an option it does not know is
 *     refused, never ignored);
 *   - struct_size smaller than the first version's size (PTXFMHA_ATTN_PARAMS_SIZE_V1,
 *     PTXFMHA_DECODE_ATTN_PARAMS_SIZE_V1), e.g. 0 from a block that was never initialised,
 *     is PTXFMHA_ERR_INVALID_ARGUMENT.
 *
 * Sequences and lengths. For sequence b in [0, batch):
 *   len_q(b) = seqlen_q                                   fixed-length Q
 *            = cu_seqlens_q[b + 1] - cu_seqlens_q[b]      variable-length Q (cu_seqlens_q)
 *   cap_k(b) = seqlen_k                                   fixed-length or paged K/V
 *            = cu_seqlens_k[b + 1] - cu_seqlens_k[b]      variable-length K/V (cu_seqlens_k)
 *   len_k(b) = seqused_k[b] when seqused_k is given (keys actually present), else cap_k(b)
 *
 * Visibility (bottom-right aligned, per sequence). Query row i in [0, len_q(b)) has the
 * diagonal d = i + len_k(b) - len_q(b) and sees key j in [0, len_k(b)) when
 *   (window_left  < 0 || j >= d - window_left) &&
 *   (right        < 0 || j <= d + right),   right = causal ? 0 : window_right.
 * So causal == (window_right = 0); window (-1, -1) and causal 0 is full attention; a window
 * wider than the sequence is the same as no window.
 *
 * Scores and softmax, for query head h of row i and a visible key j:
 *   s_j  = softmax_scale * dot(q_i, k_j)
 *   s_j  = softcap * tanh(s_j / softcap)            when softcap > 0 (after the softmax
 *                                                   scale, as FlashAttention does)
 *   s_j += -alibi_slopes[h] * |d - j|               when alibi_slopes != NULL; the bias is
 *                                                   added after the softcap and is not capped
 *                                                   (FlashAttention's order); |d - j| =
 *                                                   |i + len_k - len_q - j|
 *   with sink logit t = sink_logits[h] (when sink_logits != NULL; in the units of s_j):
 *   m    = max(t, max_j s_j),  L = e^(t - m) + sum_j e^(s_j - m)
 *   O_i  = sum_j e^(s_j - m) v_j / L,   LSE_i = m + ln L        (natural log)
 *   without sinks the t terms are absent. A row that sees no key gets O = 0 and LSE = -inf,
 *   or LSE = t with a sink. ALiBi's LSE is that of the exact bias for causal rows too
 *   (FlashAttention 2 adds slope * j there, which shifts its causal LSE by slope * d).
 *
 * Device-resident metadata (cu_seqlens_q, cu_seqlens_k, seqused_k, block_table) is read by
 * the kernels on the stream; the host never reads it during ptxfmha_attn. Whatever it holds,
 * no access goes outside the declared tensors: the kernels clamp
 *   start = clamp(cu[b], 0, total), end = clamp(cu[b + 1], start, total),
 *   len = min(end - start, max_seqlen)                      (Q with total_q / max_seqlen_q,
 *                                                            K with total_k / max_seqlen_k)
 *   len_k = clamp(seqused_k[b], 0, cap_k(b))
 *   a block_table entry outside [0, num_pages) reads as keys and values of zeros
 * and only the first ceil(len_k(b) / page_size) entries of a table row are read. Rows of a
 * sequence past max_seqlen_q, and rows that belong to no sequence, are not written.
 * ptxfmha_check_metadata reports any entry that would need such clamping.
 *
 * Every combination of the features is allowed (varlen Q and/or K or paged K, GQA, causal,
 * window, softcap, sinks, ALiBi). A valid combination without a kernel on the device returns
 * PTXFMHA_ERR_UNSUPPORTED_FEATURE naming the features and the architecture, before anything
 * is written.
 * ========================================================================================== */

/* struct_size of the first version of each block (the library's minimum). */
#define PTXFMHA_ATTN_PARAMS_SIZE_V1 272u
#define PTXFMHA_DECODE_ATTN_PARAMS_SIZE_V1 264u
/* ... and of the version with the FP8 cache fields (kv_dtype .. v_scale). */
#define PTXFMHA_DECODE_ATTN_PARAMS_SIZE_V2 288u

/* Forward (prefill) attention with every feature. Strides in elements, head_dim contiguous.
 *
 * Layouts:
 *   Q, O   fixed  (cu_seqlens_q == NULL): [batch, seqlen_q, heads_q, head_dim] as ptxfmha_fwd
 *          varlen (cu_seqlens_q != NULL): packed [total_q, heads_q, head_dim]; row r, head h
 *                 at q + r * q_seq_stride + h * q_head_stride; q_batch_stride and
 *                 o_batch_stride must be 0. Sequence b owns rows
 *                 [cu_seqlens_q[b], cu_seqlens_q[b + 1]).
 *   K, V   fixed  (cu_seqlens_k == NULL, block_table == NULL): [batch, seqlen_k, heads_kv, head_dim]
 *          varlen (cu_seqlens_k != NULL): packed [total_k, heads_kv, head_dim], batch strides 0
 *          paged  (block_table != NULL): [num_pages, page_size, heads_kv, head_dim] with
 *                 k_batch_stride / v_batch_stride = the page stride (decode's page layout);
 *                 key j of sequence b is row j % page_size of page
 *                 block_table[b * max_blocks_per_seq + j / page_size]
 *   LSE    fixed Q: [batch, heads_q, seqlen_q]; varlen Q: [heads_q, total_q] (row r of head
 *          h at lse[h * total_q + r]); fp32, natural log, contiguous.
 *
 * Rules checked before any launch (each with its own status and a message naming the field):
 *   - q, k, v, o non-NULL; q, k, v, o, lse 16-byte aligned; cu_seqlens_q, cu_seqlens_k,
 *     seqused_k, block_table, sink_logits, alibi_slopes 4-byte aligned.
 *   - batch, heads_q, heads_kv, head_dim >= 1; heads_q % heads_kv == 0.
 *   - fixed Q: seqlen_q >= 1 and max_seqlen_q == total_q == 0. varlen Q: seqlen_q == 0,
 *     0 <= max_seqlen_q <= total_q <= batch * max_seqlen_q, q/o batch strides 0.
 *   - fixed or paged K: seqlen_k >= 1 (paged: the most keys any sequence has) and
 *     max_seqlen_k == total_k == 0. varlen K: seqlen_k == 0, 0 <= max_seqlen_k <= total_k
 *     <= batch * max_seqlen_k, k/v batch strides 0.
 *   - paged: cu_seqlens_k == NULL (lengths come from seqused_k or seqlen_k); page_size a
 *     power of two in [16, 256]; max_blocks_per_seq >= 1 and max_blocks_per_seq * page_size
 *     >= seqlen_k; num_pages >= 1; batch * max_blocks_per_seq < 2^31. Not paged: page_size,
 *     max_blocks_per_seq and num_pages are 0.
 *   - causal 0 or 1; window_left, window_right >= -1; causal == 1 needs window_right -1 or
 *     0 (a right window past the diagonal contradicts causal).
 *   - softcap finite and >= 0; softmax_scale finite and > 0.
 *   - heads_q, batch <= 65535; query rows (batch * heads_q * seqlen_q, or heads_q * total_q)
 *     and key lengths (seqlen_k, max_seqlen_k, total_k) below 2^31 - 256.
 *   - strides as ptxfmha_fwd (multiples of 16 bytes, rows of a tensor disjoint); o does not
 *     overlap q, k, v, lse or any metadata / sink / slope array; lse overlaps none of them.
 *   - with a device: every pointer range is memory CUDA knows (cu_seqlens_*: batch + 1
 *     entries, seqused_k: batch, block_table: batch * max_blocks_per_seq, sinks and slopes:
 *     heads_q).
 * A problem with no query rows (varlen, total_q == 0) is valid and launches nothing. */
typedef struct ptxfmha_attn_params {
  uint64_t struct_size;          /* sizeof(ptxfmha_attn_params); set by ptxfmha_attn_params_init */

  /* tensors: bf16 device pointers; lse optional (NULL = not written) */
  const void* q;
  const void* k;
  const void* v;
  void* o;
  float* lse;
  int64_t q_batch_stride, q_seq_stride, q_head_stride;
  int64_t k_batch_stride, k_seq_stride, k_head_stride;
  int64_t v_batch_stride, v_seq_stride, v_head_stride;
  int64_t o_batch_stride, o_seq_stride, o_head_stride;

  int32_t batch;
  int32_t seqlen_q;              /* fixed Q: queries per sequence; varlen Q: 0 */
  int32_t seqlen_k;              /* fixed K: keys per sequence; paged: the most keys of a
                                    sequence (seqused_k may say fewer); varlen K: 0 */
  int32_t heads_q;
  int32_t heads_kv;
  int32_t head_dim;
  float softmax_scale;           /* usually 1/sqrt(head_dim) */
  int32_t causal;                /* 0 or 1: window_right = 0 */
  void* stream;                  /* CUstream; NULL = the legacy default stream */

  /* variable length (NULL = fixed) */
  const int32_t* cu_seqlens_q;   /* int32 device [batch + 1]: row offsets into packed Q / O */
  const int32_t* cu_seqlens_k;   /* int32 device [batch + 1]: row offsets into packed K / V */
  const int32_t* seqused_k;      /* optional int32 device [batch]: keys present per sequence */
  int32_t max_seqlen_q;          /* varlen Q: upper bound of len_q(b) (host value); else 0 */
  int32_t max_seqlen_k;          /* varlen K: upper bound of cap_k(b) (host value); else 0 */
  int32_t total_q;               /* varlen Q: rows of packed Q / O (= cu_seqlens_q[batch]); else 0 */
  int32_t total_k;               /* varlen K: rows of packed K / V (= cu_seqlens_k[batch]); else 0 */

  /* paged K / V for prefill (NULL = not paged) */
  const int32_t* block_table;    /* int32 device [batch, max_blocks_per_seq]: page ids */
  int32_t page_size;             /* keys per page: power of two in [16, 256] */
  int32_t max_blocks_per_seq;    /* columns of block_table */
  int32_t num_pages;             /* pages in the K / V pool */

  /* masking and score modifiers */
  int32_t window_left;           /* keys left of the diagonal a row sees; -1 = unbounded */
  int32_t window_right;          /* keys right of the diagonal a row sees; -1 = unbounded */
  float softcap;                 /* 0 = off; else scores -> softcap * tanh(scores / softcap) */
  const float* sink_logits;      /* optional fp32 device [heads_q]: one extra logit per head
                                    in the softmax denominator (attention sinks) */
  const float* alibi_slopes;     /* optional fp32 device [heads_q]: ALiBi slopes */
} ptxfmha_attn_params;

/* Decode with the same features: ptxfmha_decode_params' fields, in the same order and with
 * the same meaning (seqlen_q 1..8, seqlens_k clamped to [0, max_seqlen_k] as today, the
 * decode page layout), then the window / softcap / sink / ALiBi fields defined above with
 * len_q = seqlen_q and len_k(b) = seqlens_k[b] (or max_seqlen_k). Causal and window_right
 * combine as in ptxfmha_attn_params. Version 2 appends the FP8 (e4m3) cache's dtype and
 * scales after `reserved`, with 0 meaning off (a bf16 cache).
 * A call with a fixed workspace (sized once by ptxfmha_decode_attn_workspace_size for the
 * largest max_seqlen_k) is capturable in a CUDA graph: the replay reads seqlens_k,
 * block_table, the cache, the sink / slope / scale arrays as they are then. */
typedef struct ptxfmha_decode_attn_params {
  uint64_t struct_size;          /* sizeof(ptxfmha_decode_attn_params); set by the init function */
  const void* q;
  const void* k_cache;
  const void* v_cache;
  void* o;
  float* lse;
  const int32_t* seqlens_k;
  const int32_t* block_table;
  int64_t q_batch_stride, q_seq_stride, q_head_stride;
  int64_t k_batch_stride, k_seq_stride, k_head_stride;
  int64_t v_batch_stride, v_seq_stride, v_head_stride;
  int64_t o_batch_stride, o_seq_stride, o_head_stride;
  int32_t batch;
  int32_t seqlen_q;
  int32_t max_seqlen_k;
  int32_t heads_q;
  int32_t heads_kv;
  int32_t head_dim;
  int32_t page_size;
  int32_t max_blocks_per_seq;
  int32_t num_pages;
  float softmax_scale;
  int32_t causal;
  int32_t num_splits;
  void* workspace;               /* from ptxfmha_decode_attn_workspace_size */
  uint64_t workspace_bytes;
  void* stream;

  const float* sink_logits;      /* optional fp32 device [heads_q] */
  const float* alibi_slopes;     /* optional fp32 device [heads_q] */
  int32_t window_left;           /* -1 = unbounded */
  int32_t window_right;          /* -1 = unbounded */
  float softcap;                 /* 0 = off */
  int32_t reserved;              /* must be 0 */

  /* ---- version 2 (PTXFMHA_DECODE_ATTN_PARAMS_SIZE_V2): an FP8 (e4m3) K/V cache ----------
   * kv_dtype PTXFMHA_KV_E4M3: k_cache and v_cache hold e4m3 bytes (OCP FP8 E4M3, the
   * __nv_fp8_e4m3 encoding; NaN = 0x7F / 0xFF) in the same layouts, strides in elements
   * (= bytes, multiples of 16), and K = k_scale[s] * k_e4m3, V = v_scale[s] * v_e4m3 with
   * s = 0 (kv_scale_count 1: one scale per tensor) or s = the KV head (kv_scale_count ==
   * heads_kv). The scales are fp32 device arrays read on the stream (a captured graph replays
   * with new values); they must be finite and > 0 (not checked on the host: other values
   * give unspecified results, never an out-of-bounds access). Q and O stay bf16; Q enters
   * the products at f16 precision (|q| <= 65504, larger values saturate) or, where a CTA
   * holds 33..64 query rows of a KV head on sm_90 (every head dim), as two e4m3 terms
   * scaled per row (any finite bf16; error at most 2^-9 of the element or 2^-17 of its row's
   * max |q|), whose products with K the FP8 tensor cores sum at about 14 bits rather than
   * fp32: there a score's error, and the LSE's, is up to 2^-11 of M = ln sum_j exp(scale
   * sum_d |q_d k_jd|) over the keys j the row sees (M is at least the largest such sum of
   * magnitudes; on the H200, 2026-12-04, up to 2^-12.6 of M on the rows checked at head dims
   * 64 and 128; head dim 256, summed per 128 columns in two accumulators of d128's length
   * and added in fp32, not yet measured), O's as with f16 products.
   * Every feature above works with either cache type. Off (0): a bf16 cache, scales NULL and
   * kv_scale_count 0. */
  int32_t kv_dtype;              /* PTXFMHA_KV_BF16 (0) or PTXFMHA_KV_E4M3 (1) */
  int32_t kv_scale_count;        /* e4m3: 1 or heads_kv; bf16: 0 */
  const float* k_scale;          /* e4m3: fp32 device [kv_scale_count]; bf16: NULL */
  const float* v_scale;          /* e4m3: fp32 device [kv_scale_count]; bf16: NULL */
} ptxfmha_decode_attn_params;

/* kv_dtype values of ptxfmha_decode_attn_params. */
#define PTXFMHA_KV_BF16 0
#define PTXFMHA_KV_E4M3 1

/* Fills *params with the defaults for a block of struct_size bytes (the caller's
 * sizeof): zeros, struct_size, window_left = window_right = -1. struct_size below the V1
 * size or above the library's own size (a header newer than the library) is
 * PTXFMHA_ERR_INVALID_ARGUMENT and writes nothing. For language bindings; C and C++ callers
 * use the inline ptxfmha_*_params_init below. */
PTXFMHA_API ptxfmha_status ptxfmha_attn_params_init_sized(ptxfmha_attn_params* params,
                                                         uint64_t struct_size);
PTXFMHA_API ptxfmha_status ptxfmha_decode_attn_params_init_sized(ptxfmha_decode_attn_params* params,
                                                                uint64_t struct_size);
static inline ptxfmha_status ptxfmha_attn_params_init(ptxfmha_attn_params* params) {
  return ptxfmha_attn_params_init_sized(params, sizeof(*params));
}
static inline ptxfmha_status ptxfmha_decode_attn_params_init(ptxfmha_decode_attn_params* params) {
  return ptxfmha_decode_attn_params_init_sized(params, sizeof(*params));
}

/* Forward attention; asynchronous on params->stream like ptxfmha_fwd. Without any feature
 * (fixed lengths, not paged, no seqused_k, no window beyond causal, softcap 0, no sinks, no
 * slopes) it runs exactly ptxfmha_fwd's kernels. */
PTXFMHA_API ptxfmha_status ptxfmha_attn(const ptxfmha_attn_params* params);

/* Decode attention with the features; ptxfmha_decode's semantics otherwise. */
PTXFMHA_API ptxfmha_status ptxfmha_decode_attn(const ptxfmha_decode_attn_params* params);
PTXFMHA_API ptxfmha_status ptxfmha_decode_attn_workspace_size(const ptxfmha_decode_attn_params* params,
                                                             uint64_t* bytes);

/* Synchronous check of the device-resident metadata the params point to: validates the
 * params as ptxfmha_attn does, waits for params->stream, copies cu_seqlens_q, cu_seqlens_k,
 * seqused_k and block_table to the host and checks, in this order:
 *   cu_seqlens_q / cu_seqlens_k   [0] == 0; non-decreasing; every entry <= total_q / total_k;
 *                                 every length <= max_seqlen_q / max_seqlen_k; [batch] equal
 *                                 to total_q / total_k                -> INVALID_METADATA
 *   seqused_k                     every entry in [0, cap_k(b)]         -> INVALID_METADATA
 *   block_table                   the first ceil(len_k(b) / page_size) entries of row b in
 *                                 [0, num_pages)                       -> INVALID_PAGE_TABLE
 * (enough pages per sequence follows from max_blocks_per_seq * page_size >= seqlen_k, which
 * the params check enforces). The message names the first bad entry: array, index, value. */
PTXFMHA_API ptxfmha_status ptxfmha_check_metadata(const ptxfmha_attn_params* params);
/* The same for decode: seqlens_k entries in [0, max_seqlen_k] (INVALID_METADATA) and the
 * block table as above. */
PTXFMHA_API ptxfmha_status ptxfmha_check_decode_metadata(const ptxfmha_decode_attn_params* params);

#ifdef __cplusplus
}
#endif
#endif /* PTXFMHA_H */
