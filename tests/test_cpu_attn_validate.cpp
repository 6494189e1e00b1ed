// CPU tests of the extensible attention API's host side (host/src/validate_attn.cpp,
// attn.cpp): every validation row of ptxfmha_attn_params / ptxfmha_decode_attn_params has
// its status and a message naming the field, through validate_attn_shape and the public
// entry point (validation runs before any device use, so these run without a GPU); nothing
// is written (a poisoned host arena stays untouched, the params are unchanged); the
// struct_size versioning; the init functions; the canonical window and the feature bits
// that decide between the plain path and UNSUPPORTED_FEATURE.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "attn.h"
#include "attn_kernel_abi.h"
#include "decode.h"
#include "driver.h"
#include "ptxfmha/ptxfmha.h"
#include "runtime.h"
#include "validate_attn.h"
#include "validate_fixtures.h"

namespace {

constexpr uint8_t kPoison = 0xA5;
constexpr int B = 3, HQ = 4, HKV = 2, D = 64;
constexpr int TOTAL_Q = 40, MAX_Q = 20;          // varlen Q
constexpr int TOTAL_K = 50, MAX_K = 30;          // varlen K
constexpr int SQ = 16, SK = 24;                  // fixed
constexpr int PAGE = 16, MBPS = 4, PAGES = 8;    // paged: seqlen_k <= 64

// One poisoned, 4 KiB-aligned host arena with a slot per argument, 64 KiB apart.
struct Arena {
  enum Slot { Q, K, V, O, LSE, CU_Q, CU_K, SEQUSED, TABLE, SINKS, SLOPES, kSlots };
  static constexpr size_t kSlotBytes = 64 * 1024;
  std::vector<uint8_t> bytes;
  uint8_t* base;
  Arena() {
    bytes.assign(kSlots * kSlotBytes + 8192, kPoison);
    uintptr_t p = reinterpret_cast<uintptr_t>(bytes.data());
    base = bytes.data() + ((4096 - p % 4096) % 4096);
  }
  uint8_t* at(Slot s, ptrdiff_t off = 0) { return base + s * kSlotBytes + off; }
  bool untouched() const {
    for (uint8_t b : bytes)
      if (b != kPoison) return false;
    return true;
  }
};

void dense_strides(int64_t* batch, int64_t* seq, int64_t* head, int seqlen, int heads) {
  *head = D;
  *seq = int64_t(heads) * D;
  *batch = int64_t(seqlen) * heads * D;
}

// Fixed-length baseline without features (the plain path).
ptxfmha_attn_params fixed_params(Arena& a) {
  ptxfmha_attn_params p;
  REQUIRE(ptxfmha_attn_params_init(&p) == PTXFMHA_OK);
  p.q = a.at(Arena::Q); p.k = a.at(Arena::K); p.v = a.at(Arena::V); p.o = a.at(Arena::O);
  p.lse = reinterpret_cast<float*>(a.at(Arena::LSE));
  dense_strides(&p.q_batch_stride, &p.q_seq_stride, &p.q_head_stride, SQ, HQ);
  dense_strides(&p.o_batch_stride, &p.o_seq_stride, &p.o_head_stride, SQ, HQ);
  dense_strides(&p.k_batch_stride, &p.k_seq_stride, &p.k_head_stride, SK, HKV);
  dense_strides(&p.v_batch_stride, &p.v_seq_stride, &p.v_head_stride, SK, HKV);
  p.batch = B; p.seqlen_q = SQ; p.seqlen_k = SK; p.heads_q = HQ; p.heads_kv = HKV; p.head_dim = D;
  p.softmax_scale = 0.125f;
  return p;
}

// Varlen Q and K, seqused_k, window, softcap, sinks, ALiBi.
ptxfmha_attn_params varlen_params(Arena& a) {
  ptxfmha_attn_params p = fixed_params(a);
  p.cu_seqlens_q = reinterpret_cast<const int32_t*>(a.at(Arena::CU_Q));
  p.cu_seqlens_k = reinterpret_cast<const int32_t*>(a.at(Arena::CU_K));
  p.seqused_k = reinterpret_cast<const int32_t*>(a.at(Arena::SEQUSED));
  p.seqlen_q = 0; p.seqlen_k = 0;
  p.max_seqlen_q = MAX_Q; p.total_q = TOTAL_Q; p.max_seqlen_k = MAX_K; p.total_k = TOTAL_K;
  p.q_batch_stride = p.o_batch_stride = p.k_batch_stride = p.v_batch_stride = 0;
  p.window_left = 8; p.window_right = 0;
  p.softcap = 30.0f;
  p.sink_logits = reinterpret_cast<const float*>(a.at(Arena::SINKS));
  p.alibi_slopes = reinterpret_cast<const float*>(a.at(Arena::SLOPES));
  return p;
}

// Varlen Q over a paged K/V pool [PAGES, PAGE, HKV, D].
ptxfmha_attn_params paged_params(Arena& a) {
  ptxfmha_attn_params p = varlen_params(a);
  p.cu_seqlens_k = nullptr;
  p.max_seqlen_k = 0; p.total_k = 0;
  p.seqlen_k = 64;
  p.block_table = reinterpret_cast<const int32_t*>(a.at(Arena::TABLE));
  p.page_size = PAGE; p.max_blocks_per_seq = MBPS; p.num_pages = PAGES;
  p.k_head_stride = p.v_head_stride = D;
  p.k_seq_stride = p.v_seq_stride = int64_t(HKV) * D;
  p.k_batch_stride = p.v_batch_stride = int64_t(PAGE) * HKV * D;
  return p;
}

using P = ptxfmha_attn_params;
using Mutate = std::function<void(P&, Arena&)>;
enum class Base { Fixed, Varlen, Paged };

struct BadRow {
  const char* what;
  Base base;
  Mutate mutate;
  ptxfmha_status expect;
  std::vector<const char*> names;
};

const int32_t* i32(uint8_t* p) { return reinterpret_cast<const int32_t*>(p); }
const float* f32(uint8_t* p) { return reinterpret_cast<const float*>(p); }

std::vector<BadRow> bad_rows() {
  const float inf = std::numeric_limits<float>::infinity();
  const Base F = Base::Fixed, V = Base::Varlen, G = Base::Paged;
  return {
      // --- NULL / sizes
      {"q null", V, [](P& p, Arena&) { p.q = nullptr; }, PTXFMHA_ERR_NULL_POINTER, {"q is NULL"}},
      {"o null", G, [](P& p, Arena&) { p.o = nullptr; }, PTXFMHA_ERR_NULL_POINTER, {"o is NULL"}},
      {"batch 0", V, [](P& p, Arena&) { p.batch = 0; }, PTXFMHA_ERR_INVALID_SIZE, {"batch = 0"}},
      {"heads_kv 0", V, [](P& p, Arena&) { p.heads_kv = 0; }, PTXFMHA_ERR_INVALID_SIZE, {"heads_kv = 0"}},
      {"head_dim -8", G, [](P& p, Arena&) { p.head_dim = -8; }, PTXFMHA_ERR_INVALID_SIZE, {"head_dim = -8"}},
      // --- Q lengths
      {"fixed seqlen_q 0", F, [](P& p, Arena&) { p.seqlen_q = 0; }, PTXFMHA_ERR_INVALID_SIZE, {"seqlen_q = 0"}},
      {"fixed max_seqlen_q set", F, [](P& p, Arena&) { p.max_seqlen_q = 16; }, PTXFMHA_ERR_INVALID_ARGUMENT,
       {"max_seqlen_q = 16", "cu_seqlens_q"}},
      {"fixed total_q set", F, [](P& p, Arena&) { p.total_q = 48; }, PTXFMHA_ERR_INVALID_ARGUMENT, {"total_q = 48", "cu_seqlens_q"}},
      {"varlen seqlen_q set", V, [](P& p, Arena&) { p.seqlen_q = 20; }, PTXFMHA_ERR_INVALID_ARGUMENT,
       {"seqlen_q = 20", "must be 0 with cu_seqlens_q"}},
      {"varlen max_seqlen_q -1", V, [](P& p, Arena&) { p.max_seqlen_q = -1; }, PTXFMHA_ERR_INVALID_SIZE, {"max_seqlen_q = -1"}},
      {"varlen total_q -1", V, [](P& p, Arena&) { p.total_q = -1; }, PTXFMHA_ERR_INVALID_SIZE, {"total_q = -1"}},
      {"max_seqlen_q > total_q", V, [](P& p, Arena&) { p.max_seqlen_q = TOTAL_Q + 1; }, PTXFMHA_ERR_INVALID_ARGUMENT,
       {"max_seqlen_q = 41", "total_q = 40"}},
      {"total_q > batch * max_seqlen_q", V, [](P& p, Arena&) { p.max_seqlen_q = 13; }, PTXFMHA_ERR_INVALID_ARGUMENT,
       {"total_q = 40", "batch * max_seqlen_q = 3 * 13 = 39"}},
      // --- K lengths
      {"cu_seqlens_k with block_table", G, [](P& p, Arena& a) { p.cu_seqlens_k = i32(a.at(Arena::CU_K)); },
       PTXFMHA_ERR_INVALID_ARGUMENT, {"cu_seqlens_k and block_table"}},
      {"fixed seqlen_k 0", F, [](P& p, Arena&) { p.seqlen_k = 0; }, PTXFMHA_ERR_INVALID_SIZE, {"seqlen_k = 0"}},
      {"paged seqlen_k 0", G, [](P& p, Arena&) { p.seqlen_k = 0; }, PTXFMHA_ERR_INVALID_SIZE, {"seqlen_k = 0"}},
      {"fixed max_seqlen_k set", G, [](P& p, Arena&) { p.max_seqlen_k = 64; }, PTXFMHA_ERR_INVALID_ARGUMENT,
       {"max_seqlen_k = 64", "cu_seqlens_k"}},
      {"fixed total_k set", F, [](P& p, Arena&) { p.total_k = 1; }, PTXFMHA_ERR_INVALID_ARGUMENT, {"total_k = 1"}},
      {"varlen seqlen_k set", V, [](P& p, Arena&) { p.seqlen_k = 30; }, PTXFMHA_ERR_INVALID_ARGUMENT,
       {"seqlen_k = 30", "cu_seqlens_k"}},
      {"varlen max_seqlen_k -3", V, [](P& p, Arena&) { p.max_seqlen_k = -3; }, PTXFMHA_ERR_INVALID_SIZE, {"max_seqlen_k = -3"}},
      {"varlen total_k -1", V, [](P& p, Arena&) { p.total_k = -1; }, PTXFMHA_ERR_INVALID_SIZE, {"total_k = -1"}},
      {"max_seqlen_k > total_k", V, [](P& p, Arena&) { p.max_seqlen_k = 51; }, PTXFMHA_ERR_INVALID_ARGUMENT,
       {"max_seqlen_k = 51", "total_k = 50"}},
      {"total_k > batch * max_seqlen_k", V, [](P& p, Arena&) { p.max_seqlen_k = 16; }, PTXFMHA_ERR_INVALID_ARGUMENT,
       {"total_k = 50", "batch * max_seqlen_k"}},
      // --- paging
      {"page_size 8", G, [](P& p, Arena&) { p.page_size = 8; }, PTXFMHA_ERR_INVALID_PAGE_TABLE, {"page_size = 8"}},
      {"page_size 48", G, [](P& p, Arena&) { p.page_size = 48; }, PTXFMHA_ERR_INVALID_PAGE_TABLE, {"page_size = 48", "power of two"}},
      {"page_size 512", G, [](P& p, Arena&) { p.page_size = 512; }, PTXFMHA_ERR_INVALID_PAGE_TABLE, {"page_size = 512"}},
      {"max_blocks_per_seq 0", G, [](P& p, Arena&) { p.max_blocks_per_seq = 0; }, PTXFMHA_ERR_INVALID_PAGE_TABLE,
       {"max_blocks_per_seq = 0"}},
      {"num_pages 0", G, [](P& p, Arena&) { p.num_pages = 0; }, PTXFMHA_ERR_INVALID_PAGE_TABLE, {"num_pages = 0"}},
      {"too few pages per sequence", G, [](P& p, Arena&) { p.seqlen_k = 65; }, PTXFMHA_ERR_INVALID_PAGE_TABLE,
       {"max_blocks_per_seq * page_size = 4 * 16 = 64", "seqlen_k = 65"}},
      {"page_size without a table", V, [](P& p, Arena&) { p.page_size = 64; }, PTXFMHA_ERR_INVALID_ARGUMENT,
       {"page_size = 64", "block_table"}},
      {"max_blocks_per_seq without a table", F, [](P& p, Arena&) { p.max_blocks_per_seq = 2; }, PTXFMHA_ERR_INVALID_ARGUMENT,
       {"max_blocks_per_seq = 2", "block_table"}},
      {"num_pages without a table", V, [](P& p, Arena&) { p.num_pages = 9; }, PTXFMHA_ERR_INVALID_ARGUMENT,
       {"num_pages = 9", "block_table"}},
      // --- GQA
      {"heads_q 4 / heads_kv 3", V, [](P& p, Arena&) { p.heads_kv = 3; }, PTXFMHA_ERR_GQA_RATIO, {"heads_q = 4", "heads_kv = 3"}},
      // --- alignment
      {"q +2", V, [](P& p, Arena& a) { p.q = a.at(Arena::Q, 2); }, PTXFMHA_ERR_MISALIGNED_POINTER, {"q = ", "16-byte"}},
      {"k +8", G, [](P& p, Arena& a) { p.k = a.at(Arena::K, 8); }, PTXFMHA_ERR_MISALIGNED_POINTER, {"k = "}},
      {"lse +4", V, [](P& p, Arena& a) { p.lse = reinterpret_cast<float*>(a.at(Arena::LSE, 4)); },
       PTXFMHA_ERR_MISALIGNED_POINTER, {"lse = ", "16-byte"}},
      {"cu_seqlens_q +2", V, [](P& p, Arena& a) { p.cu_seqlens_q = i32(a.at(Arena::CU_Q, 2)); },
       PTXFMHA_ERR_MISALIGNED_POINTER, {"cu_seqlens_q = ", "4-byte"}},
      {"cu_seqlens_k +1", V, [](P& p, Arena& a) { p.cu_seqlens_k = i32(a.at(Arena::CU_K, 1)); },
       PTXFMHA_ERR_MISALIGNED_POINTER, {"cu_seqlens_k = "}},
      {"seqused_k +2", G, [](P& p, Arena& a) { p.seqused_k = i32(a.at(Arena::SEQUSED, 2)); },
       PTXFMHA_ERR_MISALIGNED_POINTER, {"seqused_k = "}},
      {"block_table +2", G, [](P& p, Arena& a) { p.block_table = i32(a.at(Arena::TABLE, 2)); },
       PTXFMHA_ERR_MISALIGNED_POINTER, {"block_table = "}},
      {"sink_logits +2", V, [](P& p, Arena& a) { p.sink_logits = f32(a.at(Arena::SINKS, 2)); },
       PTXFMHA_ERR_MISALIGNED_POINTER, {"sink_logits = "}},
      {"alibi_slopes +1", V, [](P& p, Arena& a) { p.alibi_slopes = f32(a.at(Arena::SLOPES, 1)); },
       PTXFMHA_ERR_MISALIGNED_POINTER, {"alibi_slopes = "}},
      // --- scale, causal, window, softcap
      {"scale 0", V, [](P& p, Arena&) { p.softmax_scale = 0.0f; }, PTXFMHA_ERR_INVALID_SCALE, {"softmax_scale = 0"}},
      {"scale NaN", G, [](P& p, Arena&) { p.softmax_scale = std::nanf(""); }, PTXFMHA_ERR_INVALID_SCALE, {"softmax_scale"}},
      {"causal 2", V, [](P& p, Arena&) { p.causal = 2; }, PTXFMHA_ERR_INVALID_ARGUMENT, {"causal = 2"}},
      {"window_left -2", V, [](P& p, Arena&) { p.window_left = -2; }, PTXFMHA_ERR_INVALID_ARGUMENT, {"window_left = -2"}},
      {"window_right -7", F, [](P& p, Arena&) { p.window_right = -7; }, PTXFMHA_ERR_INVALID_ARGUMENT, {"window_right = -7"}},
      {"causal with window_right 3", V, [](P& p, Arena&) { p.causal = 1; p.window_right = 3; }, PTXFMHA_ERR_INVALID_ARGUMENT,
       {"window_right = 3", "causal = 1"}},
      {"softcap NaN", V, [](P& p, Arena&) { p.softcap = std::nanf(""); }, PTXFMHA_ERR_INVALID_ARGUMENT, {"softcap = nan"}},
      {"softcap inf", G, [inf](P& p, Arena&) { p.softcap = inf; }, PTXFMHA_ERR_INVALID_ARGUMENT, {"softcap = inf"}},
      {"softcap -1", F, [](P& p, Arena&) { p.softcap = -1.0f; }, PTXFMHA_ERR_INVALID_ARGUMENT, {"softcap = -1"}},
      // --- 32-bit and grid limits
      {"heads_q 65536", V, [](P& p, Arena&) { p.heads_q = 65536; p.heads_kv = 1; }, PTXFMHA_ERR_SIZE_OVERFLOW, {"heads_q = 65536"}},
      {"batch 65536", V, [](P& p, Arena&) { p.batch = 65536; }, PTXFMHA_ERR_SIZE_OVERFLOW, {"batch = 65536"}},
      {"total_q > 2^31 - 257", V, [](P& p, Arena&) { p.total_q = INT32_MAX - 100; p.max_seqlen_q = INT32_MAX / 2; },
       PTXFMHA_ERR_SIZE_OVERFLOW, {"total_q = 2147483547"}},
      {"seqlen_k > 2^31 - 257", F, [](P& p, Arena&) { p.seqlen_k = INT32_MAX; }, PTXFMHA_ERR_SIZE_OVERFLOW, {"seqlen_k = 2147483647"}},
      {"max_seqlen_k > 2^31 - 257", V, [](P& p, Arena&) { p.max_seqlen_k = INT32_MAX - 1; p.total_k = INT32_MAX - 1; },
       PTXFMHA_ERR_SIZE_OVERFLOW, {"max_seqlen_k = 2147483646"}},
      {"heads_q * total_q >= 2^31", V, [](P& p, Arena&) { p.heads_q = 60000; p.total_q = 40000; p.max_seqlen_q = 20000; },
       PTXFMHA_ERR_SIZE_OVERFLOW, {"heads_q * total_q"}},
      {"heads_q * batch * seqlen_q >= 2^31", F, [](P& p, Arena&) { p.heads_q = 60000; p.seqlen_q = 20000; },
       PTXFMHA_ERR_SIZE_OVERFLOW, {"heads_q * batch * seqlen_q"}},
      {"batch * max_blocks_per_seq >= 2^31", G, [](P& p, Arena&) { p.max_blocks_per_seq = 1 << 30; },
       PTXFMHA_ERR_SIZE_OVERFLOW, {"batch * max_blocks_per_seq"}},
      // --- strides
      {"varlen q_batch_stride", V, [](P& p, Arena&) { p.q_batch_stride = 8; }, PTXFMHA_ERR_INVALID_STRIDE,
       {"q_batch_stride = 8", "cu_seqlens_q"}},
      {"varlen o_batch_stride", V, [](P& p, Arena&) { p.o_batch_stride = 4096; }, PTXFMHA_ERR_INVALID_STRIDE,
       {"o_batch_stride = 4096"}},
      {"varlen k_batch_stride", V, [](P& p, Arena&) { p.k_batch_stride = 64; }, PTXFMHA_ERR_INVALID_STRIDE,
       {"k_batch_stride = 64", "cu_seqlens_k"}},
      {"varlen v_batch_stride", V, [](P& p, Arena&) { p.v_batch_stride = -8; }, PTXFMHA_ERR_INVALID_STRIDE,
       {"v_batch_stride = -8"}},
      {"packed q_seq_stride not a 16-byte multiple", V, [](P& p, Arena&) { p.q_seq_stride += 1; }, PTXFMHA_ERR_INVALID_STRIDE,
       {"q_seq_stride"}},
      {"packed o rows overlap", V, [](P& p, Arena&) { p.o_seq_stride = 64; }, PTXFMHA_ERR_INVALID_STRIDE,
       {"o_", "overlap"}},
      {"paged page stride overlaps the rows", G, [](P& p, Arena&) { p.k_batch_stride = int64_t(PAGE - 1) * HKV * D; },
       PTXFMHA_ERR_INVALID_STRIDE, {"k_batch_stride", "overlap"}},
      {"paged v_seq_stride negative", G, [](P& p, Arena&) { p.v_seq_stride = -128; }, PTXFMHA_ERR_INVALID_STRIDE,
       {"v_seq_stride", "negative"}},
      // --- aliasing
      {"o over cu_seqlens_q", V, [](P& p, Arena& a) { p.o = a.at(Arena::CU_Q) - 4096; }, PTXFMHA_ERR_ALIASING,
       {"o ", "overlaps cu_seqlens_q"}},
      {"o over the paged k pool", G, [](P& p, Arena& a) { p.o = a.at(Arena::K, 4096); p.lse = nullptr; }, PTXFMHA_ERR_ALIASING,
       {"o ", "overlaps k"}},
      {"o over block_table", G, [](P& p, Arena& a) { p.o = a.at(Arena::TABLE) - 1024; }, PTXFMHA_ERR_ALIASING,
       {"o ", "overlaps block_table"}},
      {"o over sink_logits", V, [](P& p, Arena& a) { p.o = a.at(Arena::SINKS) - 4096; }, PTXFMHA_ERR_ALIASING,
       {"o ", "overlaps sink_logits"}},
      {"o over alibi_slopes", V, [](P& p, Arena& a) { p.o = a.at(Arena::SLOPES) - 4096; }, PTXFMHA_ERR_ALIASING,
       {"o ", "overlaps alibi_slopes"}},
      {"lse over seqused_k", G, [](P& p, Arena& a) { p.lse = reinterpret_cast<float*>(a.at(Arena::SEQUSED) - 256); },
       PTXFMHA_ERR_ALIASING, {"lse", "overlaps seqused_k"}},
      {"lse over cu_seqlens_k", V, [](P& p, Arena& a) { p.lse = reinterpret_cast<float*>(a.at(Arena::CU_K)); },
       PTXFMHA_ERR_ALIASING, {"lse", "overlaps cu_seqlens_k"}},
      {"lse inside o", V, [](P& p, Arena& a) { p.lse = reinterpret_cast<float*>(a.at(Arena::O, 1024)); }, PTXFMHA_ERR_ALIASING,
       {"overlaps"}},
      {"sink_logits over lse", V, [](P& p, Arena& a) { p.sink_logits = f32(a.at(Arena::LSE, 16)); }, PTXFMHA_ERR_ALIASING,
       {"lse", "overlaps sink_logits"}},
  };
}

P make_base(Base b, Arena& a) {
  switch (b) {
    case Base::Fixed: return fixed_params(a);
    case Base::Varlen: return varlen_params(a);
    case Base::Paged: return paged_params(a);
  }
  return fixed_params(a);
}

}  // namespace

TEST_CASE("attn validate: the baselines pass (fixed, varlen + every feature, paged), nothing written") {
  Arena a;
  for (Base b : {Base::Fixed, Base::Varlen, Base::Paged}) {
    CAPTURE(int(b));
    const P p = make_base(b, a);
    ptxfmha::clear_last_error();
    CHECK(ptxfmha::validate_attn_shape(p) == PTXFMHA_OK);
    CHECK(std::string(ptxfmha::last_error_message()).empty());
  }
  SUBCASE("lse, seqused_k, sinks, slopes absent; causal with window_right -1 and 0") {
    P p = varlen_params(a);
    p.lse = nullptr; p.seqused_k = nullptr; p.sink_logits = nullptr; p.alibi_slopes = nullptr;
    p.causal = 1;
    for (int wr : {-1, 0}) {
      p.window_right = wr;
      CHECK(ptxfmha::validate_attn_shape(p) == PTXFMHA_OK);
    }
  }
  SUBCASE("packed BHSD-like layout: [heads, total, D] rows") {
    P p = varlen_params(a);
    p.q_seq_stride = D; p.q_head_stride = int64_t(TOTAL_Q) * D;
    p.k_seq_stride = D; p.k_head_stride = int64_t(TOTAL_K) * D;
    CHECK(ptxfmha::validate_attn_shape(p) == PTXFMHA_OK);
  }
  SUBCASE("empty varlen batch (total 0) needs no valid strides and launches nothing") {
    P p = varlen_params(a);
    p.total_q = 0; p.max_seqlen_q = 0; p.total_k = 0; p.max_seqlen_k = 0;
    p.q_seq_stride = 3;  // would be a stride error, but no row exists
    CHECK(ptxfmha::validate_attn_shape(p) == PTXFMHA_OK);
    ptxfmha::clear_last_error();
    CHECK(ptxfmha_attn(&p) == PTXFMHA_OK);  // no rows: no device touched, even without a GPU
  }
  CHECK(a.untouched());
}

TEST_CASE("attn validate: every invalid field has its own status and names the field") {
  int n = 0;
  for (const BadRow& row : bad_rows()) {
    CAPTURE(row.what);
    Arena a;
    P p = make_base(row.base, a);
    REQUIRE(ptxfmha::validate_attn_shape(p) == PTXFMHA_OK);
    row.mutate(p, a);
    const P before = p;
    ptxfmha::clear_last_error();
    const ptxfmha_status st = ptxfmha::validate_attn_shape(p);
    const std::string msg = ptxfmha::last_error_message();
    CAPTURE(msg);
    CHECK(st == row.expect);
    for (const char* name : row.names) {
      CAPTURE(name);
      CHECK(msg.find(name) != std::string::npos);
    }
    // The public entry point and the metadata check report the same before any device use.
    ptxfmha::clear_last_error();
    CHECK(ptxfmha_attn(&p) == row.expect);
    CHECK(msg == ptxfmha_last_error());
    ptxfmha::clear_last_error();
    CHECK(ptxfmha_check_metadata(&p) == row.expect);
    CHECK(msg == ptxfmha_last_error());
    CHECK(std::memcmp(&before, &p, sizeof p) == 0);
    CHECK(a.untouched());
    ++n;
  }
  MESSAGE("attn validation rows: " << n);
}

TEST_CASE("attn params: init fills the defaults; struct_size versioning") {
  ptxfmha_attn_params p;
  std::memset(&p, 0x5A, sizeof p);
  REQUIRE(ptxfmha_attn_params_init(&p) == PTXFMHA_OK);
  CHECK(p.struct_size == sizeof p);
  CHECK(p.window_left == -1);
  CHECK(p.window_right == -1);
  CHECK(p.softcap == 0.0f);
  CHECK(p.q == nullptr);
  CHECK(p.cu_seqlens_q == nullptr);
  CHECK(p.block_table == nullptr);
  CHECK(p.sink_logits == nullptr);
  CHECK(p.alibi_slopes == nullptr);
  CHECK(p.causal == 0);
  CHECK(p.page_size == 0);
  ptxfmha_decode_attn_params d;
  std::memset(&d, 0x5A, sizeof d);
  REQUIRE(ptxfmha_decode_attn_params_init(&d) == PTXFMHA_OK);
  CHECK(d.struct_size == sizeof d);
  CHECK(d.window_left == -1);
  CHECK(d.window_right == -1);
  CHECK(d.reserved == 0);
  CHECK(d.num_splits == 0);
  CHECK(d.sink_logits == nullptr);

  SUBCASE("init_sized refuses sizes it does not know and writes nothing") {
    std::vector<uint8_t> buf(2 * sizeof(ptxfmha_attn_params), 0x77);
    auto* bp = reinterpret_cast<ptxfmha_attn_params*>(buf.data());
    for (uint64_t bad : {uint64_t(0), uint64_t(PTXFMHA_ATTN_PARAMS_SIZE_V1 - 8), uint64_t(sizeof p + 8)}) {
      CAPTURE(bad);
      CHECK(ptxfmha_attn_params_init_sized(bp, bad) == PTXFMHA_ERR_INVALID_ARGUMENT);
      CHECK(std::string(ptxfmha_last_error()).find("struct_size = " + std::to_string(bad)) != std::string::npos);
      for (uint8_t x : buf) REQUIRE(x == 0x77);
    }
    for (uint64_t bad : {uint64_t(0), uint64_t(PTXFMHA_DECODE_ATTN_PARAMS_SIZE_V1 - 4), uint64_t(sizeof d + 8)}) {
      CAPTURE(bad);
      CHECK(ptxfmha_decode_attn_params_init_sized(reinterpret_cast<ptxfmha_decode_attn_params*>(buf.data()), bad) ==
            PTXFMHA_ERR_INVALID_ARGUMENT);
      for (uint8_t x : buf) REQUIRE(x == 0x77);
    }
    CHECK(ptxfmha_attn_params_init_sized(nullptr, sizeof p) == PTXFMHA_ERR_NULL_POINTER);
    // A V1-sized init writes exactly V1 bytes.
    CHECK(ptxfmha_attn_params_init_sized(bp, PTXFMHA_ATTN_PARAMS_SIZE_V1) == PTXFMHA_OK);
    CHECK(buf[PTXFMHA_ATTN_PARAMS_SIZE_V1] == 0x77);
  }
  SUBCASE("entry points refuse a block that was never initialised (struct_size 0 or too small)") {
    Arena a;
    P q = varlen_params(a);
    for (uint64_t bad : {uint64_t(0), uint64_t(8), uint64_t(PTXFMHA_ATTN_PARAMS_SIZE_V1 - 1)}) {
      CAPTURE(bad);
      q.struct_size = bad;
      ptxfmha::clear_last_error();
      CHECK(ptxfmha_attn(&q) == PTXFMHA_ERR_INVALID_ARGUMENT);
      const std::string m = ptxfmha_last_error();
      CHECK(m.find("struct_size = " + std::to_string(bad)) != std::string::npos);
      CHECK(m.find("ptxfmha_attn_params_init") != std::string::npos);
      CHECK(ptxfmha_check_metadata(&q) == PTXFMHA_ERR_INVALID_ARGUMENT);
    }
    q.struct_size = uint64_t(1) << 40;
    CHECK(ptxfmha_attn(&q) == PTXFMHA_ERR_INVALID_ARGUMENT);
    CHECK(std::string(ptxfmha_last_error()).find("implausibly large") != std::string::npos);
    CHECK(a.untouched());
  }
  SUBCASE("a newer caller's larger block: zero tail accepted, a set unknown field refused") {
    Arena a;
    struct Newer {
      ptxfmha_attn_params v1;
      uint64_t future_field;
      uint32_t future_flags;
      uint32_t pad;
    } n;
    std::memset(&n, 0, sizeof n);
    n.v1 = varlen_params(a);
    n.v1.struct_size = sizeof n;
    ptxfmha_attn_params loaded;
    CHECK(ptxfmha::load_attn_params(&n.v1, &loaded) == PTXFMHA_OK);
    CHECK(loaded.struct_size == sizeof(ptxfmha_attn_params));
    CHECK(loaded.total_q == TOTAL_Q);
    CHECK(loaded.alibi_slopes == n.v1.alibi_slopes);
    n.future_flags = 1;
    ptxfmha::clear_last_error();
    CHECK(ptxfmha::load_attn_params(&n.v1, &loaded) == PTXFMHA_ERR_INVALID_ARGUMENT);
    const std::string m = ptxfmha::last_error_message();
    CHECK(m.find("byte " + std::to_string(offsetof(Newer, future_flags))) != std::string::npos);
    CHECK(ptxfmha_attn(&n.v1) == PTXFMHA_ERR_INVALID_ARGUMENT);
    CHECK(a.untouched());
  }
  SUBCASE("params NULL") {
    CHECK(ptxfmha_attn(nullptr) == PTXFMHA_ERR_NULL_POINTER);
    CHECK(std::string(ptxfmha_last_error()).find("params is NULL") != std::string::npos);
    CHECK(ptxfmha_decode_attn(nullptr) == PTXFMHA_ERR_NULL_POINTER);
    CHECK(ptxfmha_check_metadata(nullptr) == PTXFMHA_ERR_NULL_POINTER);
    CHECK(ptxfmha_check_decode_metadata(nullptr) == PTXFMHA_ERR_NULL_POINTER);
    uint64_t ws = 7;
    CHECK(ptxfmha_decode_attn_workspace_size(nullptr, &ws) == PTXFMHA_ERR_NULL_POINTER);
    CHECK(ws == 7);
  }
}

TEST_CASE("attn: canonical window (causal folded in, bounds that cannot cut dropped)") {
  using ptxfmha::canonical_window;
  // causal == window_right 0
  CHECK(canonical_window(1, -1, -1, 100, 100).causal());
  CHECK(canonical_window(0, -1, 0, 100, 100).causal());
  CHECK(canonical_window(1, -1, 0, 100, 100).causal());
  CHECK(!canonical_window(0, -1, -1, 100, 100).is_feature());
  CHECK(!canonical_window(0, -1, -1, 100, 100).causal());
  // window_left reaching every key of the longest sequence: no bound
  CHECK(canonical_window(0, 99, -1, 100, 100).left == -1);
  CHECK(canonical_window(0, 98, -1, 100, 100).left == 98);
  CHECK(canonical_window(0, 1 << 30, -1, 7, 100).left == -1);
  // window_right reaching past the last diagonal: no bound (a right bound of 0 stays causal)
  CHECK(canonical_window(0, -1, 99, 100, 100).right == -1);
  CHECK(canonical_window(0, -1, 98, 100, 100).right == 98);
  CHECK(canonical_window(0, -1, 0, 1, 100).right == 0);
  // left bound with causal: a window feature
  const ptxfmha::AttnWindow w = canonical_window(1, 64, -1, 1000, 1000);
  CHECK(w.left == 64);
  CHECK(w.right == 0);
  CHECK(w.is_feature());
  CHECK(!w.causal());
}

TEST_CASE("attn: feature bits decide the path (plain -> ptxfmha_fwd, else UNSUPPORTED_FEATURE)") {
  Arena a;
  P p = fixed_params(a);
  CHECK(ptxfmha::attn_features(p) == 0u);
  p.window_right = 0;  // == causal
  CHECK(ptxfmha::attn_features(p) == 0u);
  ptxfmha_fwd_params f = ptxfmha::attn_as_fwd(p);
  CHECK(f.causal == 1);
  CHECK(f.seqlen_q == SQ);
  CHECK(f.k_batch_stride == p.k_batch_stride);
  p.window_right = SQ - 1;  // reaches every key from every row
  p.window_left = SK - 1;
  CHECK(ptxfmha::attn_features(p) == 0u);
  CHECK(ptxfmha::attn_as_fwd(p).causal == 0);
  p.window_left = SK - 2;
  CHECK(ptxfmha::attn_features(p) == ptxfmha::kAttnWindow);
  p = varlen_params(a);
  CHECK(ptxfmha::attn_features(p) == (ptxfmha::kAttnVarlenQ | ptxfmha::kAttnVarlenK | ptxfmha::kAttnSequsedK |
                                      ptxfmha::kAttnWindow | ptxfmha::kAttnSoftcap | ptxfmha::kAttnSinks |
                                      ptxfmha::kAttnAlibi));
  p = paged_params(a);
  CHECK((ptxfmha::attn_features(p) & ptxfmha::kAttnPagedKV) != 0u);
  CHECK((ptxfmha::attn_features(p) & ptxfmha::kAttnVarlenK) == 0u);
  CHECK(ptxfmha::attn_feature_names(0) == "none");
  CHECK(ptxfmha::attn_feature_names(ptxfmha::kAttnSoftcap | ptxfmha::kAttnVarlenQ) == "varlen_q (cu_seqlens_q), softcap");
}

// ---- decode -------------------------------------------------------------------------------
namespace {

using ptxfmha_test::fake;  // validate_fixtures.h

// Paged decode with every feature: B=4, Sq=2, Hq=32, Hkv=8, D=128, page 64, 1000 keys max.
ptxfmha_decode_attn_params valid_decode() {
  ptxfmha_decode_attn_params p;
  REQUIRE(ptxfmha_decode_attn_params_init(&p) == PTXFMHA_OK);
  ptxfmha_test::fill_valid_paged_decode(&p);
  p.window_left = 128;
  p.softcap = 50.0f;
  p.sink_logits = static_cast<const float*>(fake(8));
  p.alibi_slopes = static_cast<const float*>(fake(9));
  return p;
}

}  // namespace

TEST_CASE("decode attn validate: baseline passes; each new field has its row; decode's own rows pass through") {
  using DP = ptxfmha_decode_attn_params;
  const DP good = valid_decode();
  CHECK(ptxfmha::validate_decode_attn_shape(good) == PTXFMHA_OK);
  CHECK(ptxfmha::decode_attn_features(good) == (ptxfmha::kAttnWindow | ptxfmha::kAttnSoftcap |
                                                ptxfmha::kAttnSinks | ptxfmha::kAttnAlibi));
  DP plain = good;
  plain.window_left = -1; plain.softcap = 0; plain.sink_logits = nullptr; plain.alibi_slopes = nullptr;
  CHECK(ptxfmha::decode_attn_features(plain) == 0u);
  plain.window_left = 999;  // reaches every key of max_seqlen_k 1000
  CHECK(ptxfmha::decode_attn_features(plain) == 0u);
  const ptxfmha_decode_params base = ptxfmha::decode_attn_base(good);
  CHECK(base.max_seqlen_k == 1000);
  CHECK(base.block_table == good.block_table);
  CHECK(base.stream == good.stream);
  CHECK(base.workspace_bytes == good.workspace_bytes);

  struct Row {
    const char* what;
    std::function<void(DP&)> mutate;
    ptxfmha_status expect;
    const char* needle;
  };
  const std::vector<Row> rows = {
      {"seqlen_q 9 (decode's own row)", [](DP& p) { p.seqlen_q = 9; }, PTXFMHA_ERR_INVALID_ARGUMENT, "seqlen_q = 9"},
      {"page_size 24 (decode's own row)", [](DP& p) { p.page_size = 24; }, PTXFMHA_ERR_INVALID_PAGE_TABLE, "page_size = 24"},
      {"reserved 1", [](DP& p) { p.reserved = 1; }, PTXFMHA_ERR_INVALID_ARGUMENT, "reserved = 1"},
      {"sink_logits +2", [](DP& p) { p.sink_logits = reinterpret_cast<const float*>(static_cast<const char*>(fake(8)) + 2); },
       PTXFMHA_ERR_MISALIGNED_POINTER, "sink_logits = "},
      {"alibi_slopes +1", [](DP& p) { p.alibi_slopes = reinterpret_cast<const float*>(static_cast<const char*>(fake(9)) + 1); },
       PTXFMHA_ERR_MISALIGNED_POINTER, "alibi_slopes = "},
      {"window_left -2", [](DP& p) { p.window_left = -2; }, PTXFMHA_ERR_INVALID_ARGUMENT, "window_left = -2"},
      {"window_right -3", [](DP& p) { p.causal = 0; p.window_right = -3; }, PTXFMHA_ERR_INVALID_ARGUMENT, "window_right = -3"},
      {"causal with window_right 1", [](DP& p) { p.window_right = 1; }, PTXFMHA_ERR_INVALID_ARGUMENT, "contradicts causal"},
      {"softcap -0.5", [](DP& p) { p.softcap = -0.5f; }, PTXFMHA_ERR_INVALID_ARGUMENT, "softcap = -0.5"},
      {"softcap NaN", [](DP& p) { p.softcap = std::nanf(""); }, PTXFMHA_ERR_INVALID_ARGUMENT, "softcap = nan"},
      {"o over sink_logits", [](DP& p) { p.sink_logits = static_cast<const float*>(fake(4)); }, PTXFMHA_ERR_ALIASING,
       "overlaps sink_logits"},
      {"lse over alibi_slopes", [](DP& p) { p.alibi_slopes = static_cast<const float*>(fake(5)) + 4; }, PTXFMHA_ERR_ALIASING,
       "lse"},
  };
  for (const Row& r : rows) {
    CAPTURE(r.what);
    DP p = good;
    r.mutate(p);
    ptxfmha::clear_last_error();
    CHECK(ptxfmha::validate_decode_attn_shape(p) == r.expect);
    const std::string msg = ptxfmha::last_error_message();
    CAPTURE(msg);
    CHECK(msg.find(r.needle) != std::string::npos);
    CHECK(ptxfmha_decode_attn(&p) == r.expect);
    CHECK(msg == ptxfmha_last_error());
    uint64_t ws = 12345;
    CHECK(ptxfmha_decode_attn_workspace_size(&p, &ws) == r.expect);
    CHECK(ws == 12345);
    CHECK(ptxfmha_check_decode_metadata(&p) == r.expect);
  }
  DP bad = good;
  bad.struct_size = 0;
  CHECK(ptxfmha_decode_attn(&bad) == PTXFMHA_ERR_INVALID_ARGUMENT);
  CHECK(std::string(ptxfmha_last_error()).find("ptxfmha_decode_attn_params_init") != std::string::npos);
}

// Suite "no-gpu" (tests/main.cpp excludes it where a device is present): valid calls reach the
// device step and report the driver's status, plain and with features alike.
TEST_CASE("attn: valid calls on a machine without a usable driver/device say so" * doctest::test_suite("no-gpu")) {
  std::string msg;
  const ptxfmha_status drv = ptxfmha::driver_init(&msg);
  CHECK((drv == PTXFMHA_ERR_NO_DRIVER || drv == PTXFMHA_ERR_NO_DEVICE));
  Arena a;
  for (Base b : {Base::Fixed, Base::Varlen, Base::Paged}) {
    P p = make_base(b, a);
    ptxfmha::clear_last_error();
    CHECK(ptxfmha_attn(&p) == drv);
    CHECK(std::string(ptxfmha_last_error()) == msg);
    CHECK(ptxfmha_check_metadata(&p) == drv);
  }
  const ptxfmha_decode_attn_params d = valid_decode();
  CHECK(ptxfmha_decode_attn(&d) == drv);
  CHECK(ptxfmha_check_decode_metadata(&d) == drv);
  CHECK(a.untouched());
}
