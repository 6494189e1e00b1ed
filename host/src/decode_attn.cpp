// ptxfmha_decode_attn: the serving features (window, softcap, sinks, ALiBi) and the e4m3
// cache on the decode launch path (decode_launch.cpp). See decode.h.
//
// Flow: load_decode_attn_params (struct_size versioning, validate_attn.h) ->
// validate_decode_attn_shape (the embedded decode fields with the cache's element size, the
// feature fields) -> validate_decode_attn_kv (the version-2 fields) -> the canonical window
// (attn.h) -> a DecodeCall -> decode_run. A call without features and with a bf16 cache is
// exactly ptxfmha_decode (the same plain kernels, the same plan).
#include <cinttypes>
#include <limits>

#include "attn.h"
#include "decode.h"
#include "decode_rows.h"
#include "status.h"
#include "validate_attn.h"

namespace ptxfmha {

namespace {

bool overlaps(const DecodeRange& a, const DecodeRange& b) {
  return a.hi > a.lo && b.hi > b.lo && a.lo < b.hi && b.lo < a.hi;
}

constexpr int64_t kBandMaxKeys = INT32_MAX - 256;  // window: the band's last tile in 32 bits

}  // namespace

ptxfmha_status validate_decode_attn_kv(const ptxfmha_decode_attn_params& p) {
  if (p.kv_dtype != PTXFMHA_KV_BF16 && p.kv_dtype != PTXFMHA_KV_E4M3)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "kv_dtype = %d must be PTXFMHA_KV_BF16 (0) or PTXFMHA_KV_E4M3 (1)", p.kv_dtype);
  if (p.kv_dtype == PTXFMHA_KV_BF16) {
    if (p.k_scale != nullptr || p.v_scale != nullptr)
      return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "%s is set but kv_dtype is PTXFMHA_KV_BF16 (scales "
                  "are for an e4m3 cache)", p.k_scale != nullptr ? "k_scale" : "v_scale");
    if (p.kv_scale_count != 0)
      return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                  "kv_scale_count = %d must be 0 with kv_dtype PTXFMHA_KV_BF16", p.kv_scale_count);
  } else {
    if (p.k_scale == nullptr)
      return fail(PTXFMHA_ERR_NULL_POINTER, "k_scale is NULL but kv_dtype is PTXFMHA_KV_E4M3");
    if (p.v_scale == nullptr)
      return fail(PTXFMHA_ERR_NULL_POINTER, "v_scale is NULL but kv_dtype is PTXFMHA_KV_E4M3");
    if (p.kv_scale_count != 1 && p.kv_scale_count != p.heads_kv)
      return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                  "kv_scale_count = %d must be 1 (per tensor) or heads_kv = %d (per KV head)",
                  p.kv_scale_count, p.heads_kv);
    for (const auto& a : {std::make_pair(static_cast<const void*>(p.k_scale), "k_scale"),
                          std::make_pair(static_cast<const void*>(p.v_scale), "v_scale")})
      if (reinterpret_cast<uintptr_t>(a.first) % 4 != 0)
        return fail(PTXFMHA_ERR_MISALIGNED_POINTER, "%s = %p is not 4-byte aligned", a.second, a.first);
    const uint64_t bytes = uint64_t(p.kv_scale_count) * sizeof(float);
    for (const auto& a : {std::make_pair(static_cast<const void*>(p.k_scale), "k_scale"),
                          std::make_pair(static_cast<const void*>(p.v_scale), "v_scale")})
      if (reinterpret_cast<uintptr_t>(a.first) > UINT64_MAX - bytes)
        return fail(PTXFMHA_ERR_SIZE_OVERFLOW, "%s = %p plus %" PRIu64 " bytes overflows the address space",
                    a.second, a.first, bytes);
    const ptxfmha_decode_params base = decode_attn_base(p);
    DecodeCall c;
    c.base = base;
    c.kv_bytes = 1;
    c.k_scale = p.k_scale;
    c.v_scale = p.v_scale;
    c.kv_scale_count = p.kv_scale_count;
    const std::vector<DecodeRange> r = decode_call_ranges(c);
    const DecodeRange& o = r[3];
    const DecodeRange& lse = r[4];
    for (const DecodeRange& out : {o, lse})
      for (std::size_t i = r.size() - 2; i < r.size(); ++i)  // k_scale, v_scale
        if (overlaps(out, r[i]))
          return fail(PTXFMHA_ERR_ALIASING,
                      "%s (bytes [0x%" PRIx64 ", 0x%" PRIx64 ")) overlaps %s (bytes [0x%" PRIx64 ", 0x%" PRIx64 "))",
                      out.name, out.lo, out.hi, r[i].name, r[i].lo, r[i].hi);
  }
  if (p.window_left >= 0 && p.max_seqlen_k > kBandMaxKeys)
    return fail(PTXFMHA_ERR_SIZE_OVERFLOW,
                "max_seqlen_k = %d exceeds %" PRId64 " with a window (window_left = %d): the band's "
                "tiles index keys in 32 bits",
                p.max_seqlen_k, kBandMaxKeys, p.window_left);
  return PTXFMHA_OK;
}

uint32_t decode_attn_supported_features(int sm) {
  for (int d : supported_head_dims(sm, KernelKind::Decode))
    if (find_decode_split(sm, d, 2, true) != nullptr && find_decode_combine(sm, d, true) != nullptr)
      return kDecodeAttnFeatures;
  return 0;
}

namespace {

ptxfmha_status decode_attn_call(const ptxfmha_decode_attn_params* user, DecodeCall* c) {
  ptxfmha_decode_attn_params p;
  ptxfmha_status st = load_decode_attn_params(user, &p);
  if (st != PTXFMHA_OK) return st;
  st = validate_decode_attn_shape(p);
  if (st != PTXFMHA_OK) return st;
  st = validate_decode_attn_kv(p);
  if (st != PTXFMHA_OK) return st;
  const AttnWindow w = canonical_window(p.causal, p.window_left, p.window_right, p.seqlen_q, p.max_seqlen_k);
  c->base = decode_attn_base(p);
  c->base.causal = w.causal() ? 1 : 0;
  c->kv_bytes = decode_attn_kv_bytes(p);
  c->features = decode_attn_features(p);
  if (c->features & kAttnWindow) {
    c->window_left = w.left;
    c->window_right = w.right;
  } else {  // the plain causal flag, for the feature kernels' bounds too
    c->window_left = -1;
    c->window_right = w.causal() ? 0 : -1;
  }
  c->softcap = p.softcap;
  c->sink_logits = p.sink_logits;
  c->alibi_slopes = p.alibi_slopes;
  if (c->kv_bytes == 1) {
    c->k_scale = p.k_scale;
    c->v_scale = p.v_scale;
    c->kv_scale_count = p.kv_scale_count;
  }
  return PTXFMHA_OK;
}

}  // namespace

ptxfmha_status decode_attn_with_overrides(const ptxfmha_decode_attn_params* user, const DecodeOverrides& o,
                                          bool launch, uint64_t* ws_bytes, DecodePlan* plan_out) {
  DecodeCall c;
  ptxfmha_status st = decode_attn_call(user, &c);
  if (st != PTXFMHA_OK) return st;
  c.overrides = o;
  return decode_run(c, launch, ws_bytes, plan_out);
}

ptxfmha_status decode_attn_run(const ptxfmha_decode_attn_params* user, bool launch, uint64_t* ws_bytes) {
  return decode_attn_with_overrides(user, DecodeOverrides(), launch, ws_bytes);
}

}  // namespace ptxfmha
