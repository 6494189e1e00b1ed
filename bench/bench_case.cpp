#include "bench_case.h"

#include "decode.h"

#include <regex.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace ptxfmha_bench {

double Case::flops() const {
  if (flops_override > 0) return flops_override;
  const double f = 4.0 * double(batch) * heads_q * double(seqlen_q) * double(seqlen_k) * head_dim;
  return (causal ? f / 2 : f) * (grads ? 2.5 : 1.0);
}

// ---- grids ----------------------------------------------------------------------------------
Case prefill_case(int d, bool causal, int s) {
  Case c;
  c.family = "fwd";
  c.batch = std::max(1, kTotalTokens / s);
  c.seqlen_q = c.seqlen_k = s;
  c.heads_q = c.heads_kv = std::max(1, kHidden / d);
  c.head_dim = d;
  c.causal = causal;
  char buf[160];
  std::snprintf(buf, sizeof buf, "fwd/d%d/%s/s%d/b%lldh%lld", d, causal ? "causal" : "noncausal", s,
                (long long)c.batch, (long long)c.heads_q);
  c.name = buf;
  std::snprintf(buf, sizeof buf, "fwd d=%d %-9s s=%-5d b=%-2lld h=%lld", d,
                causal ? "causal" : "noncausal", s, (long long)c.batch, (long long)c.heads_q);
  c.shape = buf;
  return c;
}

std::vector<Case> prefill_grid(const std::vector<int>& dims, const std::vector<int>& seqlens) {
  std::vector<Case> out;
  for (int d : dims)
    for (int causal = 0; causal < 2; ++causal)
      for (int s : seqlens) out.push_back(prefill_case(d, causal != 0, s));
  return out;
}

Case backward_case(int d, bool causal, int s, bool det) {
  Case c = prefill_case(d, causal, s);
  c.family = "bwd";
  c.grads = true;
  c.deterministic = det;
  c.name = "bwd" + c.name.substr(3) + (det ? "/det" : "");
  c.shape = "bwd" + c.shape.substr(3) + (det ? " det" : "");
  return c;
}

std::vector<Case> backward_grid(const std::vector<int>& dims, const std::vector<int>& seqlens) {
  std::vector<Case> out;
  for (int d : dims)
    for (int causal = 0; causal < 2; ++causal)
      for (int s : seqlens)
        for (int det = 0; det < 2; ++det) out.push_back(backward_case(d, causal != 0, s, det != 0));
  return out;
}

double attn_visible_pairs(int64_t len_q, int64_t len_k, int64_t left) {
  double n = 0;
  for (int64_t i = 0; i < len_q; ++i) {
    const int64_t d = i + len_k - len_q;  // the row's diagonal: keys <= d
    const int64_t hi = std::min(len_k, d + 1), lo = left >= 0 ? std::max<int64_t>(0, d - left) : 0;
    if (hi > lo) n += double(hi - lo);
  }
  return n;
}

namespace {
Case attn_case(const char* what, int d, int64_t b, int64_t sq, int64_t sk, int64_t hq, int64_t hkv) {
  Case c;
  c.family = "attn";
  c.batch = b; c.seqlen_q = sq; c.seqlen_k = sk; c.heads_q = hq; c.heads_kv = hkv; c.head_dim = d;
  c.causal = true;
  char buf[200];
  std::snprintf(buf, sizeof buf, "attn/%s/d%d/b%lld/q%lld/k%lld/h%lldkv%lld", what, d, (long long)b,
                (long long)sq, (long long)sk, (long long)hq, (long long)hkv);
  c.name = buf;
  std::snprintf(buf, sizeof buf, "attn %-9s d=%-3d b=%-2lld q=%-6lld k=%-6lld h=%lld/%lld", what, d,
                (long long)b, (long long)sq, (long long)sk, (long long)hq, (long long)hkv);
  c.shape = buf;
  return c;
}
// 4 * H * D * visible pairs of every sequence.
void set_flops(Case* c) {
  double pairs = 0;
  if (c->varlen())
    for (int32_t l : c->seqlens) pairs += attn_visible_pairs(l, l, c->window_left);
  else if (!c->causal && c->window_left < 0)  // every pair (softcapnc)
    pairs = double(c->batch) * double(c->seqlen_q) * double(c->seqlen_k);
  else
    pairs = double(c->batch) * attn_visible_pairs(c->seqlen_q, c->seqlen_k, c->window_left);
  c->flops_override = 4.0 * pairs * double(c->heads_q) * double(c->head_dim);
}
}  // namespace

std::vector<Case> attn_grid(const std::vector<int>& head_dims, const std::vector<int>& seqlens) {
  std::vector<Case> out;
  {  // 32 sequences, log-uniform in [128, 8192] (fixed seed), scaled to ~64k tokens
    std::vector<int32_t> lens;
    uint64_t x = 0x5EED14ull;
    double sum = 0;
    std::vector<double> raw;
    for (int i = 0; i < 32; ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      const double u = double(x >> 11) / double(1ull << 53);
      raw.push_back(std::exp(std::log(128.0) + u * (std::log(8192.0) - std::log(128.0))));
      sum += raw.back();
    }
    int32_t longest = 0;
    for (double r : raw) {
      const int32_t l = int32_t(std::clamp(std::lround(r * 65536.0 / sum), 128L, 8192L));
      lens.push_back(l);
      longest = std::max(longest, l);
    }
    Case c = attn_case("varlen", 128, 32, longest, longest, 32, 8);
    c.seqlens = lens;
    set_flops(&c);
    out.push_back(c);
  }
  // Each feature cell, with (for window, softcap, sinks) the same shape without the feature.
  struct Cell {
    const char* what;
    const char* without;  // nullptr: no twin
    int d;
    int64_t b, sq, sk, hq, hkv, page, window;
    float cap;
    bool sinks;
    bool causal;
  };
  const Cell cells[] = {{"window", "nowindow", 128, 1, 32768, 32768, 32, 8, 0, 4096, 0.0f, false, true},
                        {"paged", nullptr, 128, 2, 2048, 32768, 32, 8, 64, -1, 0.0f, false, true},
                        {"softcap", "nosoftcap", 256, 2, 8192, 8192, 16, 8, 0, -1, 50.0f, false, true},
                        {"softcapnc", "nosoftcapnc", 256, 2, 8192, 8192, 16, 8, 0, -1, 50.0f, false, false},
                        {"sinks", "nosinks", 64, 2, 8192, 8192, 64, 8, 0, 128, 0.0f, true, true}};
  for (const Cell& x : cells) {
    Case c = attn_case(x.what, x.d, x.b, x.sq, x.sk, x.hq, x.hkv);
    c.causal = x.causal;
    c.page_size = x.page;
    c.window_left = x.window;
    c.softcap = x.cap;
    c.sinks = x.sinks;
    set_flops(&c);
    out.push_back(c);
    if (x.without == nullptr) continue;
    Case n = attn_case(x.without, x.d, x.b, x.sq, x.sk, x.hq, x.hkv);
    n.causal = x.causal;
    set_flops(&n);
    out.push_back(n);
  }
  for (Case c : prefill_grid(head_dims, seqlens)) {  // the A/B twins of the plain grid
    c.family = "attn";
    c.features_off = true;
    c.name = "fwdoff" + c.name.substr(3);
    c.shape = "fwdoff" + c.shape.substr(3);
    out.push_back(c);
  }
  return out;
}

namespace {
// Several new tokens (speculative decoding) are causal among themselves: bottom-right.
bool decode_tokens_causal(int q_tokens) { return q_tokens > 1; }
}  // namespace

Case decode_case(const DecodePoint& p) {
  Case c;
  c.family = "decode";
  c.batch = p.batch;
  c.seqlen_q = p.q_tokens;
  c.seqlen_k = p.kv;
  c.heads_q = p.heads_q;
  c.heads_kv = p.heads_kv;
  c.head_dim = p.head_dim;
  c.causal = decode_tokens_causal(p.q_tokens);
  c.page_size = p.page_size;
  const std::string cache = p.page_size ? "page" + std::to_string(p.page_size) : "contig";
  char buf[200];
  std::snprintf(buf, sizeof buf, "decode/d%d/b%d/kv%d/hq%dhkv%d/q%d/%s", p.head_dim, p.batch, p.kv,
                p.heads_q, p.heads_kv, p.q_tokens, cache.c_str());
  c.name = buf;
  std::snprintf(buf, sizeof buf, "decode d=%-3d b=%-3d kv=%-6d hq=%-3d hkv=%-2d q=%d %s", p.head_dim,
                p.batch, p.kv, p.heads_q, p.heads_kv, p.q_tokens, cache.c_str());
  c.shape = buf;
  return c;
}

const DecodeAxes& decode_axes() {
  static const DecodeAxes axes;
  return axes;
}

const char* decode_grid_names() { return "classic|headline|full|quick|ab"; }

std::vector<int32_t> decode_page_order(int64_t n) {
  std::vector<int32_t> t(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) t[std::size_t(i)] = int32_t(i);
  uint64_t x = 0x9e3779b97f4a7c15ull ^ uint64_t(n);
  for (int64_t i = n - 1; i > 0; --i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift64
    std::swap(t[std::size_t(i)], t[std::size_t(x % uint64_t(i + 1))]);
  }
  return t;
}

bool decode_grid(const std::string& which, std::vector<Case>* out, std::string* why) {
  out->clear();
  const DecodeAxes& ax = decode_axes();
  std::vector<std::string> seen;
  auto add = [&](const DecodePoint& p) {
    Case c = decode_case(p);
    if (std::find(seen.begin(), seen.end(), c.name) != seen.end()) return;
    seen.push_back(c.name);
    out->push_back(std::move(c));
  };
  if (which == "classic") {
    for (int b : {1, 8, 32, 64})
      for (int kv : {4096, 8192, 32768}) {
        DecodePoint p;
        p.batch = b;
        p.kv = kv;
        add(p);
      }
  } else if (which == "ab") {
    for (auto hh : {std::pair<int, int>{32, 8}, {64, 8}})
      for (int b : {8, 32, 64})
        for (int kv : {8192, 32768}) {
          DecodePoint p;
          p.heads_q = hh.first;
          p.heads_kv = hh.second;
          p.batch = b;
          p.kv = kv;
          add(p);
        }
  } else if (which == "quick") {
    DecodePoint p;
    p.batch = 8;
    add(p);
    p.page_size = 16;
    add(p);
  } else if (which == "headline") {
    // The base (d128, 32/8, one token, contiguous) at every batch x kv ...
    for (int b : ax.batches)
      for (int kv : ax.kvs) {
        DecodePoint p;
        p.batch = b;
        p.kv = kv;
        add(p);
      }
    // ... then one axis at a time at batch 1 (latency), 8 and 64 (bandwidth), kv 8k.
    auto sweep = [&](auto set) {
      for (int b : {1, 8, 64}) {
        DecodePoint p;
        p.batch = b;
        set(p);
        add(p);
      }
    };
    for (int d : ax.head_dims) sweep([d](DecodePoint& p) { p.head_dim = d; });
    for (auto hh : ax.heads)
      sweep([hh](DecodePoint& p) { p.heads_q = hh.first; p.heads_kv = hh.second; });
    for (int q : ax.q_tokens) sweep([q](DecodePoint& p) { p.q_tokens = q; });
    for (int ps : ax.page_sizes) sweep([ps](DecodePoint& p) { p.page_size = ps; });
  } else if (which == "full") {
    for (int d : ax.head_dims)
      for (auto hh : ax.heads)
        for (int q : ax.q_tokens)
          for (int ps : ax.page_sizes)
            for (int b : ax.batches)
              for (int kv : ax.kvs) {
                DecodePoint p;
                p.head_dim = d;
                p.heads_q = hh.first;
                p.heads_kv = hh.second;
                p.q_tokens = q;
                p.page_size = ps;
                p.batch = b;
                p.kv = kv;
                add(p);
              }
  } else {
    if (why) *why = "unknown decode grid '" + which + "' (" + decode_grid_names() + ")";
    return false;
  }
  return true;
}

namespace {
// A variant token `<letter><1-4 digits>` (wN, sN, pN, qN).
bool count_token(const std::string& tok, char letter) {
  return tok.size() > 1 && tok.size() < 6 && tok[0] == letter &&
         tok.find_first_not_of("0123456789", 1) == std::string::npos;
}
// Its count into *out; false (with why) when it is below 1.
bool parse_count(const std::string& tok, const char* what, int* out, std::string* why) {
  *out = std::atoi(tok.c_str() + 1);
  if (*out >= 1) return true;
  if (why) *why = "'" + tok + "': the number of " + what + " must be >= 1";
  return false;
}
}  // namespace

bool parse_decode_variant(const std::string& item, DecodeVariant* v, std::string* why) {
  *v = DecodeVariant();
  if (item == "default") return true;
  std::size_t start = 0;
  while (start <= item.size()) {
    const std::size_t end = std::min(item.find('+', start), item.size());
    const std::string tok = item.substr(start, end - start);
    if (tok == "e4m3") {
      v->e4m3 = true;
    } else if (tok.rfind("k=", 0) == 0 && tok.size() > 2) {
      v->kernel_stem = tok.substr(2);
    } else if (count_token(tok, 'w')) {
      if (!parse_count(tok, "waves", &v->min_waves, why)) return false;
    } else if (tok == "cl") {
      v->cluster = 2;
    } else if (tok == "nocl") {
      v->cluster = 1;
    } else if (tok == "tma") {
      v->tma = true;
    } else if (count_token(tok, 's')) {
      if (!parse_count(tok, "splits", &v->num_splits, why)) return false;
    } else if (count_token(tok, 'p')) {
      if (!parse_count(tok, "keys per page", &v->page_size, why)) return false;
      const int n = v->page_size;
      if (n < ptxfmha::kDecodeMinPageSize || n > ptxfmha::kDecodeMaxPageSize || (n & (n - 1)) != 0) {
        if (why) *why = "'" + tok + "': pages of a power of two in [16, 256] keys (the library's page sizes)";
        return false;
      }
    } else if (count_token(tok, 'q')) {
      if (!parse_count(tok, "query tokens", &v->q_tokens, why)) return false;
      if (v->q_tokens > ptxfmha::kDecodeMaxSeqlenQ) {
        if (why)
          *why = "'" + tok + "': at most " + std::to_string(ptxfmha::kDecodeMaxSeqlenQ) +
                 " query tokens (the library's decode limit)";
        return false;
      }
    } else {
      if (why) *why = "'" + tok + "' in '" + item + "' is not e4m3, k=STEM, wN, sN, pN, qN, cl, nocl or tma";
      return false;
    }
    start = end + 1;
  }
  return true;
}

std::vector<Case> decode_variant_cells(const std::vector<Case>& base, const std::vector<std::string>& items) {
  std::vector<Case> out;
  for (const Case& c : base) {
    if (!c.decode()) {
      out.push_back(c);
      continue;
    }
    for (const std::string& item : items) {
      DecodeVariant v;
      if (!parse_decode_variant(item, &v, nullptr)) continue;
      Case x = c;
      if (item != "default") {
        x.variant = item;
        if (v.e4m3) {
          x.family = "decode_e4m3";
          x.kv_elem_bytes = 1;
        }
        if (v.page_size > 0) x.page_size = v.page_size;
        if (v.q_tokens > 0) {
          x.seqlen_q = v.q_tokens;
          x.causal = decode_tokens_causal(v.q_tokens);
        }
        x.name += "/v=" + item;
        x.shape += " [" + item + "]";
      }
      out.push_back(std::move(x));
    }
  }
  return out;
}

float decode_e4m3_scale(bool v, int64_t h) { return std::ldexp(1.0f, -(4 + int((h + (v ? 1 : 0)) % 2))); }

void dequantise_e4m3_rows(const uint8_t* src, int64_t tokens, int64_t heads_kv, int64_t head_dim, bool v,
                          uint16_t* dst) {
  std::vector<uint16_t> lut(std::size_t(heads_kv) * 256);
  for (int64_t h = 0; h < heads_kv; ++h) ptxfmha::e4m3_bf16_table(decode_e4m3_scale(v, h), lut.data() + h * 256);
  std::size_t i = 0;
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t h = 0; h < heads_kv; ++h) {
      const uint16_t* row_lut = lut.data() + h * 256;
      for (int64_t d = 0; d < head_dim; ++d, ++i) dst[i] = row_lut[src[i]];
    }
}

bool name_matches(const std::string& name, const std::string& filter, std::string* why) {
  if (filter.empty() || filter == "all" || filter == ".") return true;
  const bool negate = filter[0] == '-';
  const std::string expr = negate ? filter.substr(1) : filter;
  regex_t re;
  if (regcomp(&re, expr.c_str(), REG_EXTENDED | REG_NOSUB) != 0) {
    if (why) *why = "malformed filter '" + filter + "'";
    return false;
  }
  const bool hit = regexec(&re, name.c_str(), 0, nullptr, 0) == 0;
  regfree(&re);
  return negate ? !hit : hit;
}

// ---- device memory ---------------------------------------------------------------------------
int wanted_sets(const Case& c, std::size_t l2_bytes) {
  const double want = std::ceil(2.0 * double(l2_bytes) / c.set_bytes());
  return int(std::clamp(want, 1.0, double(kMaxSets)));
}

double case_bytes(const Case& c, int sets) {
  const double grads = c.grads ? 2.0 * (3.0 * c.q_elems() + 4.0 * c.kv_elems()) : 0.0;
  const double per_set = 2.0 * (3.0 * c.q_elems() + 2.0 * c.kv_elems()) + 8.0 * c.lse_elems() + grads;  // (e4m3: 2 bytes allotted)
  const double tables = 4.0 * (c.batch * c.blocks_per_seq() + 2 * c.batch);  // page table, seqlens
  return per_set * sets + tables;
}

const ArenaSize* MemoryPlan::arena(const std::string& family) const {
  for (std::size_t i = 0; i < families.size(); ++i)
    if (families[i] == family) return &arenas[i];
  return nullptr;
}

MemoryPlan plan_memory(const std::vector<Case>& cases, std::size_t l2_bytes, double budget) {
  MemoryPlan plan;
  plan.skip.assign(cases.size(), "");
  for (const Case& c : cases)
    if (std::find(plan.families.begin(), plan.families.end(), c.family) == plan.families.end())
      plan.families.push_back(c.family);
  plan.arenas.resize(plan.families.size());
  double used = 0;
  for (std::size_t f = 0; f < plan.families.size(); ++f) {
    ArenaSize& a = plan.arenas[f];
    for (std::size_t i = 0; i < cases.size(); ++i) {
      const Case& c = cases[i];
      if (c.family != plan.families[f]) continue;
      const double one = case_bytes(c, 1);
      if (one > budget) {
        char buf[200];
        std::snprintf(buf, sizeof buf,
                      "does not fit in device memory: needs %.1f GiB, %.1f GiB available to it",
                      one / double(1 << 30), std::max(0.0, budget) / double(1 << 30));
        plan.skip[i] = buf;
        continue;
      }
      const int sets = std::max(1, std::min(wanted_sets(c, l2_bytes), int(budget / one)));
      a.q_elems = std::max(a.q_elems, c.q_elems() * sets);
      a.o_elems = std::max(a.o_elems, c.q_elems() * sets);
      a.lse_elems = std::max(a.lse_elems, c.lse_elems() * sets);
      a.kv_elems = std::max(a.kv_elems, c.kv_elems() * sets);
      if (c.grads) {
        a.grad_q_elems = std::max(a.grad_q_elems, c.q_elems() * sets);
        a.grad_kv_elems = std::max(a.grad_kv_elems, c.kv_elems() * sets);
      }
    }
    used += a.bytes();
  }
  plan.in_turn = used > budget;
  return plan;
}

void group_by_family(std::vector<Case>* cases) {
  std::vector<std::string> order;
  for (const Case& c : *cases)
    if (std::find(order.begin(), order.end(), c.family) == order.end()) order.push_back(c.family);
  auto rank = [&](const Case& c) { return std::find(order.begin(), order.end(), c.family) - order.begin(); };
  std::stable_sort(cases->begin(), cases->end(), [&](const Case& a, const Case& b) { return rank(a) < rank(b); });
}

}  // namespace ptxfmha_bench
