// ptxfmha_attn, ptxfmha_decode_attn and their init / workspace functions. See attn.h.
#include "attn.h"

#include <cinttypes>
#include <cstring>

#include "decode.h"
#include "fwd.h"
#include "kernel_lookup.h"
#include "runtime.h"
#include "validate_attn.h"

namespace ptxfmha {

AttnWindow canonical_window(int32_t causal, int32_t window_left, int32_t window_right,
                            int32_t max_len_q, int32_t max_len_k) {
  AttnWindow w;
  w.left = window_left;
  w.right = causal ? 0 : window_right;
  if (w.left >= 0 && int64_t(w.left) >= int64_t(max_len_k) - 1) w.left = -1;
  if (w.right >= 1 && int64_t(w.right) >= int64_t(max_len_q) - 1) w.right = -1;
  return w;
}

uint32_t attn_features(const ptxfmha_attn_params& p) {
  uint32_t f = 0;
  if (p.cu_seqlens_q != nullptr) f |= kAttnVarlenQ;
  if (p.cu_seqlens_k != nullptr) f |= kAttnVarlenK;
  if (p.block_table != nullptr) f |= kAttnPagedKV;
  if (p.seqused_k != nullptr) f |= kAttnSequsedK;
  const AttnWindow w = canonical_window(p.causal, p.window_left, p.window_right,
                                        attn_max_len_q(p), attn_max_len_k(p));
  if (w.is_feature()) f |= kAttnWindow;
  if (p.softcap > 0.0f) f |= kAttnSoftcap;
  if (p.sink_logits != nullptr) f |= kAttnSinks;
  if (p.alibi_slopes != nullptr) f |= kAttnAlibi;
  return f;
}

uint32_t decode_attn_features(const ptxfmha_decode_attn_params& p) {
  uint32_t f = 0;
  const AttnWindow w = canonical_window(p.causal, p.window_left, p.window_right, p.seqlen_q,
                                        p.max_seqlen_k);
  if (w.is_feature()) f |= kAttnWindow;
  if (p.softcap > 0.0f) f |= kAttnSoftcap;
  if (p.sink_logits != nullptr) f |= kAttnSinks;
  if (p.alibi_slopes != nullptr) f |= kAttnAlibi;
  return f;
}

std::string attn_feature_names(uint32_t bits) {
  static const struct {
    uint32_t bit;
    const char* name;
  } kNames[] = {{kAttnVarlenQ, "varlen_q (cu_seqlens_q)"},  {kAttnVarlenK, "varlen_k (cu_seqlens_k)"},
                {kAttnPagedKV, "paged_kv (block_table)"},   {kAttnSequsedK, "seqused_k"},
                {kAttnWindow, "window (window_left/right)"}, {kAttnSoftcap, "softcap"},
                {kAttnSinks, "sinks (sink_logits)"},        {kAttnAlibi, "alibi (alibi_slopes)"}};
  std::string s;
  for (const auto& n : kNames)
    if (bits & n.bit) s += (s.empty() ? "" : ", ") + std::string(n.name);
  return s.empty() ? "none" : s;
}

uint32_t attn_supported_features(int sm) {
  const char* arch = sm >= 10 ? arch_for_cc(sm / 10, sm % 10) : nullptr;
  uint32_t f = 0;
  if (arch == nullptr) return f;
  for (const KernelInfo* r : all_kernels())
    if (r->kind == KernelKind::Fwd && std::strcmp(r->arch, arch) == 0) f |= r->features;
  return f;
}
// Decode's: decode_attn.cpp (the _attn rows of ptx/manifest/sm90_decode.h).

ptxfmha_fwd_params attn_as_fwd(const ptxfmha_attn_params& p) {
  ptxfmha_fwd_params f;
  std::memset(&f, 0, sizeof f);
  f.q = p.q;
  f.k = p.k;
  f.v = p.v;
  f.o = p.o;
  f.lse = p.lse;
  f.q_batch_stride = p.q_batch_stride;
  f.q_seq_stride = p.q_seq_stride;
  f.q_head_stride = p.q_head_stride;
  f.k_batch_stride = p.k_batch_stride;
  f.k_seq_stride = p.k_seq_stride;
  f.k_head_stride = p.k_head_stride;
  f.v_batch_stride = p.v_batch_stride;
  f.v_seq_stride = p.v_seq_stride;
  f.v_head_stride = p.v_head_stride;
  f.o_batch_stride = p.o_batch_stride;
  f.o_seq_stride = p.o_seq_stride;
  f.o_head_stride = p.o_head_stride;
  f.batch = p.batch;
  f.seqlen_q = p.seqlen_q;
  f.seqlen_k = p.seqlen_k;
  f.heads_q = p.heads_q;
  f.heads_kv = p.heads_kv;
  f.head_dim = p.head_dim;
  f.softmax_scale = p.softmax_scale;
  f.causal = canonical_window(p.causal, p.window_left, p.window_right, p.seqlen_q, p.seqlen_k)
                 .causal() ? 1 : 0;
  f.stream = p.stream;
  return f;
}

namespace {

ptxfmha_status fail_unsupported(const char* entry, uint32_t missing, const DeviceInfo& dev) {
  return fail(PTXFMHA_ERR_UNSUPPORTED_FEATURE,
              "%s: no %s kernel (device sm_%d) implements %s yet", entry,
              dev.arch ? dev.arch : "(no kernels)", dev.sm, attn_feature_names(missing).c_str());
}

ptxfmha_status attn_impl(const ptxfmha_attn_params* user) {
  ptxfmha_attn_params p;
  ptxfmha_status st = load_attn_params(user, &p);
  if (st != PTXFMHA_OK) return st;
  st = validate_attn_shape(p);
  if (st != PTXFMHA_OK) return st;
  if (attn_query_rows(p) == 0) return PTXFMHA_OK;  // varlen with no rows: nothing to write
  const uint32_t features = attn_features(p);
  if (features == 0) {
    const ptxfmha_fwd_params f = attn_as_fwd(p);
    return fwd_with_row(&f, nullptr);
  }
  DeviceInfo dev;
  st = acquire_device(&dev);
  if (st != PTXFMHA_OK) return st;
  const ptxfmha_fwd_params f = attn_as_fwd(p);  // head_dim only
  st = validate_fwd_head_dim(f, dev.sm);
  if (st != PTXFMHA_OK) return st;
  st = check_attn_device_ranges(p);
  if (st != PTXFMHA_OK) return st;
  const KernelInfo* row = find_attn_row(dev.sm, p.head_dim, features);
  if (row == nullptr) {
    const uint32_t missing = features & ~attn_supported_features(dev.sm);
    return fail_unsupported("ptxfmha_attn", missing != 0 ? missing : features, dev);
  }
  return attn_launch(p, dev, *row);
}

// launch == false: only *ws_bytes (ptxfmha_decode_attn_workspace_size). The decode launch path
// with the features and the e4m3 cache: decode_attn.cpp.
ptxfmha_status decode_attn_impl(const ptxfmha_decode_attn_params* user, bool launch,
                                uint64_t* ws_bytes) {
  return decode_attn_run(user, launch, ws_bytes);
}

template <class P>
ptxfmha_status init_sized(P* params, uint64_t struct_size, uint64_t v1_size, const char* type,
                          void (*defaults)(P*)) {
  if (params == nullptr) return fail(PTXFMHA_ERR_NULL_POINTER, "params is NULL");
  if (struct_size < v1_size || struct_size > sizeof(P))
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "struct_size = %" PRIu64 " is outside [%" PRIu64 ", %zu], the sizes of %s this "
                "library knows (a header newer than the library?)",
                struct_size, v1_size, sizeof(P), type);
  P full;
  defaults(&full);
  full.struct_size = struct_size;
  std::memcpy(params, &full, static_cast<std::size_t>(struct_size));
  return PTXFMHA_OK;
}

}  // namespace

}  // namespace ptxfmha

extern "C" {

PTXFMHA_API ptxfmha_status ptxfmha_attn_params_init_sized(ptxfmha_attn_params* params,
                                                         uint64_t struct_size) {
  return ptxfmha::init_sized(params, struct_size, PTXFMHA_ATTN_PARAMS_SIZE_V1,
                             "ptxfmha_attn_params", ptxfmha::attn_params_defaults);
}

PTXFMHA_API ptxfmha_status ptxfmha_decode_attn_params_init_sized(ptxfmha_decode_attn_params* params,
                                                                uint64_t struct_size) {
  return ptxfmha::init_sized(params, struct_size, PTXFMHA_DECODE_ATTN_PARAMS_SIZE_V1,
                             "ptxfmha_decode_attn_params", ptxfmha::decode_attn_params_defaults);
}

PTXFMHA_API ptxfmha_status ptxfmha_attn(const ptxfmha_attn_params* params) {
  return ptxfmha::api_guard("ptxfmha_attn", [&] { return ptxfmha::attn_impl(params); });
}

PTXFMHA_API ptxfmha_status ptxfmha_decode_attn(const ptxfmha_decode_attn_params* params) {
  return ptxfmha::api_guard("ptxfmha_decode_attn",
                          [&] { return ptxfmha::decode_attn_impl(params, true, nullptr); });
}

PTXFMHA_API ptxfmha_status ptxfmha_decode_attn_workspace_size(const ptxfmha_decode_attn_params* params,
                                                             uint64_t* bytes) {
  return ptxfmha::api_guard("ptxfmha_decode_attn_workspace_size", [&] {
    if (bytes == nullptr) return ptxfmha::fail(PTXFMHA_ERR_NULL_POINTER, "bytes is NULL");
    uint64_t b = 0;
    ptxfmha_status st = ptxfmha::decode_attn_impl(params, false, &b);
    if (st == PTXFMHA_OK) *bytes = b;
    return st;
  });
}

}  // extern "C"
