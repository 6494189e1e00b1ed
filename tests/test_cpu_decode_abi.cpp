// CPU tests: the decode kernels' parameter block ABI.
//   - ptx/include/decode_params.ptxh names every DecodeKernelParams field at its offsetof(),
//     and DECODE_PARAM_BYTES is sizeof(DecodeKernelParams);
//   - every Decode / DecodeCombine row takes a DecodeKernelParams block, and its preprocessed
//     .ptx declares `.param .align 64 .b8 dparams[sizeof(DecodeKernelParams)]`;
//   - the split kernels' shared-memory budget holds the ring, the barriers and the epilogue;
//   - sm90a and sm100a assemble the same bodies, so their rows carry the same numbers;
//   - the SASS of every decode cubin (both architectures) keeps the design's contract.
// (test_cpu_kernel_table.cpp ties every row's KERNEL_* macros and .maxntid to the table.)
#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <regex>
#include <string>

#include "decode.h"
#include "decode_abi.h"
#include "decode_rows.h"
#include "gpu_util.h"
#include "ptx_util.h"
#include "runtime.h"
#include "shapes.h"

using namespace ptxfmha_test;
using ptxfmha::DecodeKernelParams;
using ptxfmha::KernelInfo;
using ptxfmha::KernelKind;

TEST_CASE("decode_params.ptxh names every DecodeKernelParams field at its offsetof()") {
  const std::string path = source_dir() + "/ptx/include/decode_params.ptxh";
  bool ok = false;
  std::string err;
  const auto macros = cpp_macros(path, &ok, &err);
  REQUIRE_MESSAGE(ok, err);

#define PTXFMHA_FIELD(def, member) \
  AbiField { def, offsetof(DecodeKernelParams, member), sizeof(DecodeKernelParams::member) }
  const std::vector<AbiField> fields = {
      PTXFMHA_FIELD("DP_TMA_K", tma_k),
      PTXFMHA_FIELD("DP_TMA_V", tma_v),
      PTXFMHA_FIELD("DP_Q_PTR", q_ptr),
      PTXFMHA_FIELD("DP_O_PTR", o_ptr),
      PTXFMHA_FIELD("DP_LSE_PTR", lse_ptr),
      PTXFMHA_FIELD("DP_SEQLENS_PTR", seqlens_ptr),
      PTXFMHA_FIELD("DP_BLOCK_TABLE_PTR", block_table_ptr),
      PTXFMHA_FIELD("DP_WS_O_PTR", ws_o_ptr),
      PTXFMHA_FIELD("DP_WS_LSE_PTR", ws_lse_ptr),
      PTXFMHA_FIELD("DP_Q_BATCH_STRIDE", q_batch_stride),
      PTXFMHA_FIELD("DP_Q_SEQ_STRIDE", q_seq_stride),
      PTXFMHA_FIELD("DP_Q_HEAD_STRIDE", q_head_stride),
      PTXFMHA_FIELD("DP_O_BATCH_STRIDE", o_batch_stride),
      PTXFMHA_FIELD("DP_O_SEQ_STRIDE", o_seq_stride),
      PTXFMHA_FIELD("DP_O_HEAD_STRIDE", o_head_stride),
      PTXFMHA_FIELD("DP_BATCH", batch),
      PTXFMHA_FIELD("DP_SEQLEN_Q", seqlen_q),
      PTXFMHA_FIELD("DP_MAX_SEQLEN_K", max_seqlen_k),
      PTXFMHA_FIELD("DP_HEADS_Q", heads_q),
      PTXFMHA_FIELD("DP_HEADS_KV", heads_kv),
      PTXFMHA_FIELD("DP_GQA_RATIO", gqa_ratio),
      PTXFMHA_FIELD("DP_PAGE_SHIFT", page_shift),
      PTXFMHA_FIELD("DP_MAX_BLOCKS_PER_SEQ", max_blocks_per_seq),
      PTXFMHA_FIELD("DP_BOX_SHIFT", box_shift),
      PTXFMHA_FIELD("DP_NUM_SPLITS", num_splits),
      PTXFMHA_FIELD("DP_SPLIT_KEYS", split_keys),
      PTXFMHA_FIELD("DP_CAUSAL", causal),
      PTXFMHA_FIELD("DP_SCALE_LOG2", scale_log2),
      PTXFMHA_FIELD("DP_M_GROUPS", m_groups),
      PTXFMHA_FIELD("DP_PACKED_ROWS", packed_rows),
      PTXFMHA_FIELD("DP_COMBINE_ROWS", combine_rows),
      PTXFMHA_FIELD("DP_SINK_PTR", sink_logits_ptr),
      PTXFMHA_FIELD("DP_ALIBI_PTR", alibi_slopes_ptr),
      PTXFMHA_FIELD("DP_FEATURES", features),
      PTXFMHA_FIELD("DP_WINDOW_LEFT", window_left),
      PTXFMHA_FIELD("DP_WINDOW_RIGHT", window_right),
      PTXFMHA_FIELD("DP_SOFTCAP_PRE", softcap_pre),
      PTXFMHA_FIELD("DP_SOFTCAP_POST_LOG2", softcap_post_log2),
      PTXFMHA_FIELD("DP_KV_SCALE_STRIDE", kv_scale_stride),
      PTXFMHA_FIELD("DP_K_SCALE_PTR", k_scale_ptr),
      PTXFMHA_FIELD("DP_V_SCALE_PTR", v_scale_ptr),
      PTXFMHA_FIELD("DP_K_PTR", k_ptr),
      PTXFMHA_FIELD("DP_V_PTR", v_ptr),
      PTXFMHA_FIELD("DP_KV_BATCH_STRIDE", kv_batch_stride_bytes),
      PTXFMHA_FIELD("DP_KV_SEQ_STRIDE", kv_seq_stride_bytes),
      PTXFMHA_FIELD("DP_KV_HEAD_STRIDE", kv_head_stride_bytes),
      PTXFMHA_FIELD("DP_HO_COUNTERS_PTR", ho_counters_ptr),
  };
#undef PTXFMHA_FIELD
  // the tail past the last field: the struct's 128-byte alignment (CUtensorMap's)
  const std::size_t end = offsetof(DecodeKernelParams, ho_counters_ptr) + sizeof(uint64_t);
  CHECK(sizeof(DecodeKernelParams) % 128 == 0);
  CHECK(sizeof(DecodeKernelParams) - end < 128);
  check_param_header(macros, path, "DP_", "DECODE_PARAM_BYTES", fields, end, sizeof(DecodeKernelParams) - end,
                     sizeof(DecodeKernelParams));
  CHECK(offsetof(DecodeKernelParams, tma_k) % 64 == 0);
  CHECK(offsetof(DecodeKernelParams, tma_v) % 64 == 0);
}

TEST_CASE("decode kernel rows: DecodeKernelParams blocks, one split and one combine kernel per head dim") {
  int split_rows = 0;
  std::set<std::string> split_keys, combine_keys;
  for (const KernelInfo* r : ptxfmha::all_kernels()) {
    if (r->kind != KernelKind::Decode && r->kind != KernelKind::DecodeCombine) continue;
    CAPTURE(r->name);
    CHECK(r->param_bytes == static_cast<int>(sizeof(DecodeKernelParams)));
    const std::string key = std::string(r->arch) + "/d" + std::to_string(r->head_dim);
    if (r->kind == KernelKind::Decode) {
      ++split_rows;
      CHECK_MESSAGE(split_keys.insert(key).second, "two decode rows for " << key);
      CHECK(r->block_n == ptxfmha::kDecodeBlockN);
      CHECK(r->block_m == ptxfmha::kDecodeRowsPerCta);
    } else {
      CHECK_MESSAGE(combine_keys.insert(key).second, "two combine rows for " << key);
    }
    // The preprocessed kernel's single .param block has exactly the host struct's size.
    const std::string pre = preprocessed_path(r->arch, r->name);
    bool ok = false;
    const std::string text = read_text_file(pre, &ok);
    REQUIRE_MESSAGE(ok, "missing preprocessed PTX " << pre << " (run make)");
    const PtxEntry e = parse_entry(text, r->name);
    REQUIRE(e.found);
    REQUIRE(e.params.size() == 1);
    CHECK(e.params[0].array == static_cast<long long>(sizeof(DecodeKernelParams)));
    CHECK(e.params[0].align == 64);
  }
  CHECK(split_rows > 0);
  CHECK_MESSAGE(split_keys == combine_keys, "every decode kernel needs its combine kernel (same arch and head dim)");
}

// The sm100a decode kernels instantiate the sm90a bodies (ptx/body/sm90_decode/kernel.ptxh,
// combine.ptxh) with only KERNEL_TARGET changed: each sm90a row has an sm100a twin,
// named alike, with the same kind, head dim, tiling, threads, shared memory and parameter block.
namespace {
bool decode_kind(KernelKind k) {
  return k == KernelKind::Decode || k == KernelKind::DecodeCombine || k == KernelKind::DecodeVariant ||
         k == KernelKind::DecodeCombineVariant;
}
}  // namespace

TEST_CASE("decode kernel rows: sm100a rows mirror the sm90a rows (same bodies, same numbers)") {
  int pairs = 0, wg_rows = 0;
  for (const KernelInfo* a : ptxfmha::all_kernels()) {
    if (!decode_kind(a->kind)) continue;
    if (std::string(a->arch) != "sm90a") continue;
    if (ptxfmha::decode_row_wg(a)) {  // wgmma: sm_90a only (sm_100a has tcgen05 instead)
      ++wg_rows;
      continue;
    }
    std::string twin = a->name;
    const std::string suffix = "_sm90a";
    REQUIRE(twin.size() > suffix.size());
    REQUIRE(twin.compare(twin.size() - suffix.size(), suffix.size(), suffix) == 0);
    twin = twin.substr(0, twin.size() - suffix.size()) + "_sm100a";
    CAPTURE(a->name);
    CAPTURE(twin);
    const KernelInfo* b = find_row(twin);
    REQUIRE_MESSAGE(b != nullptr, "no sm100a decode row " << twin);
    CHECK(std::string(b->arch) == "sm100a");
    CHECK(b->sm == 100);
    CHECK(a->sm == 90);
    CHECK(b->kind == a->kind);
    CHECK(b->head_dim == a->head_dim);
    CHECK(b->block_m == a->block_m);
    CHECK(b->block_n == a->block_n);
    CHECK(b->threads == a->threads);
    CHECK(b->smem_bytes == a->smem_bytes);
    CHECK(b->param_bytes == a->param_bytes);
    // The same decode facts (cache type, features, L2 hint, stages, sink).
    const ptxfmha::DecodeRowFacts* fa = ptxfmha::decode_row_facts(a);
    const ptxfmha::DecodeRowFacts* fb = ptxfmha::decode_row_facts(b);
    REQUIRE(fa != nullptr);
    REQUIRE(fb != nullptr);
    CHECK(fa->combine == fb->combine);
    CHECK(fa->stages == fb->stages);
    CHECK(fa->kv_bytes == fb->kv_bytes);
    CHECK(fa->features == fb->features);
    CHECK(fa->l2_hint == fb->l2_hint);
    CHECK(fa->sink == fb->sink);
    CHECK(fa->heads == fb->heads);
    CHECK(fa->cluster == fb->cluster);
    // The rows select the same kernels through the public lookup.
    if (a->kind == KernelKind::Decode || a->kind == KernelKind::DecodeCombine) {
      CHECK(ptxfmha::find_kernel(100, a->kind, a->head_dim) == b);
      CHECK(ptxfmha::find_kernel(90, a->kind, a->head_dim) == a);
    }
    ++pairs;
  }
  // d64, d128, d256 x (split, combine) + 9 feature / e4m3 split variants + 4 A/B levers + the
  // wide d64 twin (_s3) + the e4m3 d64 two-heads row (_e4m3_h2) + 3 sink combine kernels + 12
  // cluster-merge rows (_cl, _attn_cl, _e4m3_cl, _e4m3_attn_cl) + 3 hand-out rows (_ho) + the
  // bf16 d64 two-heads row (_h2, s39)
  CHECK(pairs == 6 + 9 + 4 + 1 + 1 + 3 + 12 + 3 + 1);
  CHECK(wg_rows == 16);  // _wg, _wg_cl, _e4m3_wg, _e4m3_wg_cl at head dims 64, 128, 256, and d256's
                        // _e4m3_wgc, _e4m3_wgc_cl (converter warps) and _e4m3_wg2c, _e4m3_wg2c_cl
                        // (two consumer warpgroups), without sm100a twins
  int sm100_rows = 0;
  for (const KernelInfo* r : ptxfmha::all_kernels())
    if (decode_kind(r->kind) && std::string(r->arch) == "sm100a") {
      ++sm100_rows;
      CHECK(!ptxfmha::decode_row_wg(r));
    }
  CHECK(sm100_rows == pairs);
}

// The decode facts the host picks rows by come from the same manifest rows as the PTX's
// KERNEL_* facts: compare them for every decode stub; and the picks.
TEST_CASE("decode kernel rows: facts equal the stubs' KERNEL_* macros; the host's picks") {
  int n = 0;
  for (const auto& s : ptx_sources()) {
    const KernelInfo* row = find_row(s.name);
    if (row == nullptr || !decode_kind(row->kind)) continue;
    CAPTURE(s.path);
    const ptxfmha::DecodeRowFacts* f = ptxfmha::decode_row_facts(row);
    REQUIRE(f != nullptr);
    bool ok = false;
    std::string err;
    const auto macros = cpp_macros(s.path, &ok, &err);
    REQUIRE_MESSAGE(ok, err);
    CHECK(f->head_dim == row->head_dim);
    if (f->combine) {
      CHECK((row->kind == KernelKind::DecodeCombine || row->kind == KernelKind::DecodeCombineVariant));
      CHECK(macro_value(macros, "KERNEL_SINK", s.path) == f->sink);
      CHECK((row->kind == KernelKind::DecodeCombineVariant) == (f->sink != 0));
    } else {
      CHECK((row->kind == KernelKind::Decode || row->kind == KernelKind::DecodeVariant));
      CHECK(macro_value(macros, "KERNEL_STAGES", s.path) == f->stages);
      CHECK(macro_value(macros, "KERNEL_KV_BYTES", s.path) == f->kv_bytes);
      CHECK(macro_value(macros, "KERNEL_FEATURES", s.path) == f->features);
      CHECK(macro_value(macros, "KERNEL_L2_HINT", s.path) == f->l2_hint);
      CHECK(macro_value(macros, "KERNEL_HEADS", s.path) == f->heads);
      CHECK(ptxfmha::decode_row_heads(row) == f->heads);
      CHECK(macro_value(macros, "KERNEL_CLUSTER", s.path) == f->cluster);
      CHECK(ptxfmha::decode_row_cluster(row) == (f->cluster != 0));
      CHECK(macro_value(macros, "KERNEL_WG", s.path) == f->wg);
      CHECK(ptxfmha::decode_row_wg(row) == (f->wg != 0));
      CHECK(macro_value(macros, "KERNEL_HANDOUT", s.path) == f->handout);
      CHECK(ptxfmha::decode_row_handout(row) == (f->handout != 0));
      // the _ho rows: the plain bf16 one-head mma.sync rows' facts, TMA only
      if (f->handout != 0) {
        CHECK((f->kv_bytes == 2 && f->features == 0 && f->l2_hint == 0 && f->heads == 1 && f->cluster == 0 &&
               f->wg == 0));
        CHECK(!ptxfmha::decode_row_cpasync(row));
      }
      // the default rows are the plain bf16 ones
      CHECK((row->kind == KernelKind::Decode) == (f->kv_bytes == 2 && f->features == 0 && f->l2_hint == 0 &&
                                                  f->heads == 1 && f->cluster == 0 && f->wg == 0 &&
                                                  f->handout == 0 &&
                                                  f->stages == (row->head_dim == 64 ? 4 : 3)));
    }
    ++n;
  }
  CHECK(n == 2 * (6 + 9 + 4 + 1 + 1 + 3 + 12 + 3 + 1) + 16);  // (+ 3 _ho, + bf16 d64 _h2) + the sm90a-only _wg, _e4m3_wg, _e4m3_wgc, _e4m3_wg2c rows
  for (int sm : {90, 100}) {
    CAPTURE(sm);
    for (int d : ptxfmha_test::kHeadDims) {
      CAPTURE(d);
      const KernelInfo* plain = ptxfmha::find_decode_split(sm, d, 2, false);
      REQUIRE(plain != nullptr);
      CHECK(plain == ptxfmha::find_kernel(sm, KernelKind::Decode, d));  // ptxfmha_decode's row
      for (int kv : {2, 1})
        for (bool feat : {false, true}) {
          const KernelInfo* r = ptxfmha::find_decode_split(sm, d, kv, feat);
          REQUIRE(r != nullptr);
          const ptxfmha::DecodeRowFacts* f = ptxfmha::decode_row_facts(r);
          CHECK(f->kv_bytes == kv);
          CHECK(f->features == int(feat));
          CHECK(f->l2_hint == 0);  // the A/B levers run only when named
          CHECK(f->heads == 1);
          CHECK(f->cluster == 0);  // the _cl twins run only when the plan picks them
          // the cluster twin: same facts, KERNEL_CLUSTER 1
          const KernelInfo* cl = ptxfmha::find_decode_cluster(sm, d, kv, feat);
          REQUIRE(cl != nullptr);
          const ptxfmha::DecodeRowFacts* fc = ptxfmha::decode_row_facts(cl);
          CHECK(fc->cluster == 1);
          CHECK(fc->kv_bytes == kv);
          CHECK(fc->features == int(feat));
          CHECK(fc->heads == 1);
          CHECK(fc->stages == f->stages);
          CHECK(cl->head_dim == d);
          CHECK(cl->smem_bytes == r->smem_bytes);  // the merge reuses the ring
          CHECK(ptxfmha::find_decode_split_named(sm, cl->name) == cl);
        }
      // With the call's heads: bf16 keeps its plain row; an e4m3 cache at head dim 64 (64-byte
      // rows, half an L2 line) runs two adjacent KV heads per CTA where they fit (even heads_kv,
      // <= 16 packed rows per head), one head per CTA otherwise and at head dims 128 / 256.
      CHECK(ptxfmha::find_decode_split(sm, d, 2, false, 8, 4) == plain);
      // CTAs of 33..64 packed rows (3-4 m-tiles) run the warpgroup row where one exists (sm90a,
      // every head dim, plain); its cluster twin is the _wg_cl row; no wide twin.
      {
        const std::string wg_name = "fmha_decode_d" + std::to_string(d) + "_wg_sm90a";
        const KernelInfo* wg = sm == 90 ? find_row(wg_name) : nullptr;
        CHECK((wg != nullptr) == (sm == 90));
        const KernelInfo* want = wg != nullptr ? wg : plain;
        CHECK(ptxfmha::find_decode_split(sm, d, 2, false, 8, 32) == plain);
        CHECK(ptxfmha::find_decode_split(sm, d, 2, false, 8, 33) == want);
        CHECK(ptxfmha::find_decode_split(sm, d, 2, false, 8, 64) == want);
        CHECK(ptxfmha::find_decode_split(sm, d, 2, false, 8, 128) == want);  // two m-groups of 64
        CHECK(ptxfmha::find_decode_split(sm, d, 2, true, 8, 64) == ptxfmha::find_decode_split(sm, d, 2, true));
        CHECK(ptxfmha::decode_row_wg(want) == (wg != nullptr));
        // e4m3: the _e4m3_wg row at 33..64 packed rows (and its _e4m3_wg_cl twin; at d256 the
        // two-warpgroup row _e4m3_wg2c and its twin, listed first since s28), the mma.sync rows
        // below
        const std::string ewg_stem = d == 256 ? "_e4m3_wg2c" : "_e4m3_wg";
        const std::string ewg_name = "fmha_decode_d" + std::to_string(d) + ewg_stem + "_sm90a";
        const KernelInfo* ewg = sm == 90 ? find_row(ewg_name) : nullptr;
        CHECK((ewg != nullptr) == (wg != nullptr));
        const KernelInfo* e_low = ptxfmha::find_decode_split(sm, d, 1, false);
        CHECK(ptxfmha::find_decode_split(sm, d, 1, false, 8, 64) == (ewg != nullptr ? ewg : e_low));
        CHECK(ptxfmha::find_decode_split(sm, d, 1, false, 8, 33) == (ewg != nullptr ? ewg : e_low));
        // from 17 rows at d256 (decode_wg_min_rows: the mma.sync row's two m-tiles convert each
        // tile twice), from 33 at d64 / d128; one m-tile never
        for (int64_t rows : {17, 32})
          CHECK(ptxfmha::decode_row_wg(ptxfmha::find_decode_split(sm, d, 1, false, 8, rows)) ==
                (ewg != nullptr && d == 256));
        CHECK(!ptxfmha::decode_row_wg(ptxfmha::find_decode_split(sm, d, 1, false, 8, 16)));
        CHECK(ptxfmha::decode_wg_min_rows(d, 2) == ptxfmha::kDecodeWgMinRows);
        CHECK(ptxfmha::find_decode_split(sm, d, 1, true, 8, 64) == ptxfmha::find_decode_split(sm, d, 1, true));
        const KernelInfo* ewg_cl = ptxfmha::find_decode_cluster(sm, d, 1, false, true);
        CHECK((ewg_cl != nullptr) == (ewg != nullptr));
        if (ewg != nullptr) {
          REQUIRE(ewg_cl != nullptr);
          CHECK(std::string(ewg_cl->name) == "fmha_decode_d" + std::to_string(d) + ewg_stem + "_cl_sm90a");
          CHECK(ptxfmha::decode_row_facts(ewg)->kv_bytes == 1);
          CHECK(ptxfmha::find_decode_wide(sm, ewg) == nullptr);
          // as many CTAs per SM as the bf16 twin by shared memory (228 KiB, 1 KiB reserved per CTA)
          CHECK(233472 / (ewg->smem_bytes + 1024) == 233472 / (wg->smem_bytes + 1024));
          CHECK(ptxfmha::decode_row_qk_e4m3(ewg));     // every head dim: the e4m3 QK (WG 2, 3, 4)
          CHECK(ptxfmha::decode_row_qk_e4m3(ewg_cl));
          CHECK(ptxfmha::decode_row_facts(ewg)->wg == (d == 256 ? 4 : 2));
          if (d == 256) {  // the WG 3 and WG 2 pairs: named only (A/B baselines), the same facts otherwise
            for (const auto& [name, w] : {std::pair<std::string, int>{"fmha_decode_d256_e4m3_wgc_sm90a", 3},
                                          std::pair<std::string, int>{"fmha_decode_d256_e4m3_wg_sm90a", 2}}) {
              CAPTURE(name);
              const KernelInfo* other = find_row(name);
              REQUIRE(other != nullptr);
              CHECK(ptxfmha::decode_row_facts(other)->wg == w);
              CHECK(other->smem_bytes == ewg->smem_bytes);
              CHECK(ptxfmha::find_decode_split_named(sm, name.c_str()) == other);
              CHECK(ptxfmha::decode_row_qk_e4m3(other));
            }
            CHECK(ewg->threads == 512);                  // two consumer warpgroups, producer's, converters'
          }
        }
        const KernelInfo* wg_cl = ptxfmha::find_decode_cluster(sm, d, 2, false, true);
        CHECK((wg_cl != nullptr) == (wg != nullptr));
        if (wg != nullptr) {
          REQUIRE(wg_cl != nullptr);
          CHECK(std::string(wg_cl->name) == "fmha_decode_d" + std::to_string(d) + "_wg_cl_sm90a");
          CHECK(ptxfmha::find_decode_wide(sm, wg) == nullptr);
          CHECK(ptxfmha::find_decode_cluster(sm, d, 2, false) != wg_cl);  // the mma.sync twin
        }
      }
      const KernelInfo* e_fit = ptxfmha::find_decode_split(sm, d, 1, false, 8, 4);
      const KernelInfo* e_one = ptxfmha::find_decode_split(sm, d, 1, false);
      REQUIRE(e_fit != nullptr);
      CHECK(ptxfmha::decode_row_heads(e_one) == 1);
      CHECK(ptxfmha::decode_row_heads(e_fit) == (d == 64 ? 2 : 1));
      CHECK((e_fit == e_one) == (d != 64));
      if (d == 64) {
        const ptxfmha::DecodeRowFacts* fe = ptxfmha::decode_row_facts(e_fit);
        CHECK(fe->kv_bytes == 1);
        CHECK(fe->features == 0);
        CHECK(fe->cluster == 0);
        CHECK(ptxfmha::find_decode_split(sm, d, 1, false, 8, 16) == e_fit);  // 16 rows per head fit
      }
      // too many rows per head for _e4m3_h2; at d256 the _e4m3_wg2c row from 17 rows (sm90a)
      CHECK(ptxfmha::find_decode_split(sm, d, 1, false, 8, 17) ==
            (sm == 90 && d == 256 ? find_row("fmha_decode_d256_e4m3_wg2c_sm90a") : e_one));
      CHECK(ptxfmha::find_decode_split(sm, d, 1, false, 7, 4) == e_one);   // odd heads_kv
      CHECK(ptxfmha::find_decode_split(sm, d, 1, true, 8, 4) == ptxfmha::find_decode_split(sm, d, 1, true));
      CHECK(ptxfmha::find_decode_combine(sm, d, false) == ptxfmha::find_kernel(sm, KernelKind::DecodeCombine, d));
      // The wide twin: only the plain bf16 d64 row has one (_s3: its facts, 3 stages of 4).
      const KernelInfo* wide = ptxfmha::find_decode_wide(sm, plain);
      if (d == 64) {
        REQUIRE(wide != nullptr);
        CHECK(std::string(wide->name) == std::string("fmha_decode_d64_s3_") + plain->arch);
        const ptxfmha::DecodeRowFacts* fw = ptxfmha::decode_row_facts(wide);
        CHECK(fw->stages == 3);
        CHECK(ptxfmha::decode_row_facts(plain)->stages == 4);
        CHECK(wide->smem_bytes < plain->smem_bytes);
        CHECK(ptxfmha::find_decode_wide(sm, wide) == nullptr);  // no twin of the twin
      } else {
        CHECK(wide == nullptr);
      }
      for (int kv : {2, 1})
        for (bool feat : {false, true})
          if (kv == 1 || feat)
            CHECK(ptxfmha::find_decode_wide(sm, ptxfmha::find_decode_split(sm, d, kv, feat)) == nullptr);
      CHECK(ptxfmha::find_decode_wide(sm, ptxfmha::find_decode_combine(sm, d, false)) == nullptr);
      const KernelInfo* sink = ptxfmha::find_decode_combine(sm, d, true);
      REQUIRE(sink != nullptr);
      CHECK(ptxfmha::decode_row_facts(sink)->sink == 1);
    }
    const std::string ef = sm == 90 ? "fmha_decode_d128_ef_sm90a" : "fmha_decode_d128_ef_sm100a";
    const KernelInfo* r = ptxfmha::find_decode_split_named(sm, ef.c_str());
    REQUIRE(r != nullptr);
    CHECK(ptxfmha::decode_row_facts(r)->l2_hint == 1);
    CHECK(ptxfmha::find_decode_split_named(sm, "fmha_decode_d128_nonexistent") == nullptr);
    // a combine row is not a split row, another arch's row is not this device's
    CHECK(ptxfmha::find_decode_split_named(sm, sm == 90 ? "fmha_decode_combine_d128_sm90a" : "x") == nullptr);
    CHECK(ptxfmha::find_decode_split_named(sm, sm == 90 ? "fmha_decode_d128_sm100a" : "fmha_decode_d128_sm90a") ==
          nullptr);
  }
  CHECK(ptxfmha::find_decode_split(80, 128, 2, false) == nullptr);
}

// The rows that take the cp.async producer for a contiguous cache, by name. The body (config.ptxh
// CPASYNC) and the host (decode_row_cpasync, which the plan and the SASS contract below read) share
// one expression, SM90_DECODE_CPASYNC in the manifest; this list is the independent statement of
// which rows it must select (s29-s30: the plain bf16 rows and their _s3 / _s6 / _cl twins).
TEST_CASE("decode kernel rows: the cp.async producer's rows are the plain bf16 rows and their twins") {
  std::set<std::string> want;
  for (const char* arch : {"sm90a", "sm100a"})
    for (const char* row : {"d64", "d128", "d256", "d128_s6", "d64_s3", "d64_cl", "d128_cl", "d256_cl"})
      want.insert(std::string("fmha_decode_") + row + "_" + arch);
  std::set<std::string> got;
  for (const KernelInfo* r : ptxfmha::all_kernels())
    if (decode_kind(r->kind) && ptxfmha::decode_row_cpasync(r)) got.insert(r->name);
  for (const std::string& n : got) CHECK_MESSAGE(want.count(n) == 1, n << " takes cp.async");
  for (const std::string& n : want) CHECK_MESSAGE(got.count(n) == 1, n << " does not take cp.async");
}

TEST_CASE("decode split kernels: shared memory holds ring, barriers and epilogue scratch") {
  for (const auto& s : ptx_sources()) {
    const KernelInfo* row = find_row(s.name);
    if (row == nullptr || (row->kind != KernelKind::Decode && row->kind != KernelKind::DecodeVariant)) continue;
    CAPTURE(s.path);
    bool ok = false;
    std::string err;
    const auto macros = cpp_macros(s.path, &ok, &err);
    REQUIRE_MESSAGE(ok, err);
    const long long stages = macro_value(macros, "KERNEL_STAGES", s.path);
    const long long kv = macro_value(macros, "KERNEL_KV_BYTES", s.path);
    const long long heads = macro_value(macros, "KERNEL_HEADS", s.path);
    const long long d = row->head_dim;
    CHECK((kv == 1 || kv == 2));
    CHECK((heads == 1 || heads == 2));
    const long long ring_bytes = stages * 2 * heads * 64 * d * kv;    // K + V tiles of every head
    long long epi_bytes = 4 * 16 * (d + 8) * 4 + 4 * 16 * 8;          // O parts + (m, l)
    if (macro_value(macros, "KERNEL_CLUSTER", s.path) != 0)
      epi_bytes += 64 * d * 4 + 64 * 4;                               // _cl: partial O + LSE of 64 rows
    // the e4m3 warpgroup rows: the f16 copies after the ring, two of a V tile; the Q tile (64
    // rows x D x 2 bytes) of every e4m3 warpgroup row (Q's two e4m3 tiles, hi and lo) and of the
    // bf16 warpgroup rows at 256
    const bool wg = macro_value(macros, "KERNEL_WG", s.path) != 0;
    const long long q_tile_bytes = wg && (d == 256 || kv == 1) ? 64 * d * 2 : 0;
    const long long copy_bytes = (kv == 1 && wg ? 2 * 64 * d * 2 : 0) + q_tile_bytes;
    CHECK(stages >= 2);
    CHECK(stages <= 8);                                                // 8 full + 8 empty barriers
    // the _ho rows: 8 slot-word pairs and HO_FLUSH's {m0, m1, l0, l1} of 4 warps x 32 lanes
    // past the barriers; HO_FLUSH's four warps' O fragments (64 D bytes each) fill one stage
    const bool ho = macro_value(macros, "KERNEL_HANDOUT", s.path) != 0;
    const long long ho_bytes = ho ? 64 + 4 * 32 * 16 : 0;
    if (ho) CHECK(4 * 64 * d <= 2 * heads * 64 * d * kv);
    CHECK(row->smem_bytes == 1024 + ring_bytes + copy_bytes + 128 + ho_bytes);
    CHECK(epi_bytes <= ring_bytes + copy_bytes);
    CHECK(row->smem_bytes <= 227 * 1024);                             // sm_90 and sm_100 opt-in limit
  }
}

// Assembles `ptx` for sm_90a in a temporary folder and counts `needle` in its SASS (the mutation
// tests of the decode producer's SASS contract below).
static long long sm90a_sass_count(const std::string& ptx, const char* needle) {
  const std::string tool = cuobjdump_path();
  REQUIRE(!tool.empty());
  const std::string ptxas = ptxas_path();
  int rc = 1;
  std::string dir = run_command("mktemp -d", &rc);
  REQUIRE(rc == 0);
  dir = dir.substr(0, dir.find_last_not_of('\n') + 1);
  REQUIRE(!dir.empty());
  const std::string src = dir + "/k.ptx", bin = dir + "/k.cubin";
  {
    std::ofstream out(src, std::ios::binary);
    out << ptx;
    REQUIRE(out.good());
  }
  int st = 1;
  const std::string log = run_command(shell_quote(ptxas) + " -arch=sm_90a " + shell_quote(src) + " -o " +
                                      shell_quote(bin) + " 2>&1", &st);
  REQUIRE_MESSAGE(st == 0, log);
  const std::string sass = run_command(shell_quote(tool) + " -sass " + shell_quote(bin) + " 2>&1", &st);
  run_command("rm -rf " + shell_quote(dir), &rc);
  REQUIRE(st == 0);
  long long n = 0;
  for (std::size_t i = sass.find(needle); i != std::string::npos; i = sass.find(needle, i + 1)) ++n;
  return n;
}

// The producer's boxes are issued by the lane elect.sync picks (producer.ptxh); with the lane-0
// predicate in its place (`mov.pred %p_elect, %p_lane0`: the same lane, the form before
// 2026-12-05) ptxas wraps every TMA in a per-lane loop (ELECT / R2UR / BRA.U.ANY): the contract
// above (no BRA.U.ANY) would fail on such a kernel. Assembled here from the preprocessed PTX of
// the e4m3 d256 row (4 boxes per key block) for sm_90a.
TEST_CASE("decode producer: the lane-0 branch instead of elect.sync puts a loop around every TMA" *
          doctest::test_suite("sass")) {
  bool ok = false;
  const std::string name = "fmha_decode_d256_e4m3_sm90a";
  const std::string text = read_text_file(preprocessed_path("sm90a", name), &ok);
  REQUIRE_MESSAGE(ok, "missing preprocessed PTX of " << name << " (run make)");
  const std::size_t at = text.find("elect.sync");
  REQUIRE(at != std::string::npos);
  CHECK(text.find("elect.sync", at + 1) == std::string::npos);  // the producer's one
  const std::size_t end = text.find(';', at);
  REQUIRE(end != std::string::npos);
  REQUIRE(text.substr(at, end - at).find("%p_elect") != std::string::npos);
  const std::string mutated = text.substr(0, at) + "mov.pred %p_elect, %p_lane0" + text.substr(end);
  CHECK(sm90a_sass_count(text, "BRA.U.ANY") == 0);
  CHECK(sm90a_sass_count(mutated, "BRA.U.ANY") == 4);  // one per UTMALDG: 2 column blocks x K, V
}

// Read with cuobjdump -sass (CUDA 13.0) on 2026-11-24 for both folders: the sm90a and sm100a
// cubins of one head dim have the same counts of these opcodes. Split kernel d128: 32
// HMMA.16816.F32.BF16 (mma.sync.m16n8k16 bf16 -> f32), 8 LDSM.16.M88.4 (ldmatrix.x4 of K)
// + 8 LDSM.16.MT88.4 (.trans, V), 4 UTMALDG.4D (cp.async.bulk.tensor), SYNCS.* (mbarrier
// init / arrive.expect_tx / try_wait), one PREEXIT (griddepcontrol.launch_dependents), no
// LDL/STL. Combine kernel: one ACQBULK (griddepcontrol.wait), no HMMA, no TMA, no LDL/STL.
// The sm100a code differs only in generic scheduling (LDCU constant loads, FMNMX3,
// BSSY.RECONVERGENT).
// The e4m3 variants (read 2026-12-01, CUDA 13.0), d128: 32 HMMA.16816.F32 (f16 inputs), 4 + 4
// LDSM (one ldmatrix.x4 covers 32 columns of bytes), 64 F2FP.F16.E4M3.UNPACK_B (the
// dequantisation: D/2 per sub-block), 2 UTMALDG (one 128-column box each of K and V); the _ef
// variants carry the L2 policy on every UTMALDG (desc[...] operand).
TEST_CASE("decode SASS contract: mma.sync on the tensor cores, TMA loads, PDL, no local memory" *
          doctest::test_suite("sass")) {
  const std::string tool = cuobjdump_path();
  REQUIRE(!tool.empty());
  std::map<std::string, int> checked;  // arch -> decode cubins checked
  for (const KernelInfo* r : ptxfmha::all_kernels()) {
    if (!decode_kind(r->kind)) continue;
    CAPTURE(r->name);
    const ptxfmha::DecodeRowFacts* f = ptxfmha::decode_row_facts(r);
    REQUIRE(f != nullptr);
    const std::string cubin = cubin_file(r->arch, r->name);
    REQUIRE_MESSAGE(file_exists(cubin), "missing " << cubin << " (run make)");
    int rc = 0;
    const std::string sass = run_command(shell_quote(tool) + " -sass " + shell_quote(cubin) + " 2>&1", &rc);
    REQUIRE(rc == 0);
    // SASS for the row's folder (sm_90a / sm_100a), not merely loadable there.
    CHECK_MESSAGE(sass.find("code for " + ptxas_target(r->arch) + "\n") != std::string::npos,
                  cubin << " holds no SASS for " << ptxas_target(r->arch));
    const auto fns = parse_sass(sass);
    REQUIRE(fns.size() == 1);
    CHECK(fns[0].name == r->name);
    auto count = [&](const char* op) {
      auto it = fns[0].opcodes.find(op);
      return it == fns[0].opcodes.end() ? 0LL : it->second;
    };
    auto occurrences_in = [](const std::string& text, const std::string& needle) {
      long long n = 0;
      for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
      return n;
    };
    auto occurrences = [&](const std::string& needle) { return occurrences_in(sass, needle); };
    CHECK(count("LDL") == 0);
    CHECK(count("STL") == 0);
    if (!f->combine) {
      const long long d = r->head_dim;
      const bool e4m3 = f->kv_bytes == 1;
      if (f->wg == 0) {
        // per 16-key sub-block: D/16 k-steps x 2 mma (QK) + D/16 x 2 mma (PV), unrolled once
        CHECK(count("HMMA") == d / 4);
        CHECK(count("HGMMA") == 0);
        const auto hmma = fns[0].first_line.find("HMMA");
        if (hmma != fns[0].first_line.end())  // m16n8k16, bf16 (e4m3: f16) inputs, f32 accumulators
          CHECK_MESSAGE(hmma->second.find(e4m3 ? "HMMA.16816.F32 " : "HMMA.16816.F32.BF16 ") != std::string::npos,
                        hmma->second);
        // ldmatrix.x4 of K and (.trans) of V: per 16 columns (bf16) or 32 columns (e4m3)
        CHECK(count("LDSM") == (e4m3 ? d / 16 : d / 8));
      } else {
        // the warpgroup loops: QK = D/16 wgmma m64n64k16 with K from shared memory, PV = 4
        // wgmma m64nDk16 with V transposed; no mma.sync, no ldmatrix. The pipelined loops (bf16
        // d64 mainloop_wg.ptxh, e4m3 WG 2 mainloop_wg_e4m3_pipe.ptxh) have each product
        // twice (QK in the first round and the loop, PV in the loop and the last round); the
        // serial ones (bf16 d128 and d256 mainloop_wg_serial.ptxh) once. Q is the register A
        // operand (SASS "R24, R88, gdesc[...]") but in the d256 16-bit rows, where it is the
        // 16-bit Q tile in shared memory ("R24, gdesc[...]": one descriptor pair for A and B), and
        // in the e4m3 WG 2 loop, whose QK is 2 x D/32 e4m3 wgmma m64n64k32 (SASS QGMMA, "R24,
        // gdesc[...]": A and B in shared memory, Q lo's and Q hi's tiles against the stage's e4m3
        // K). e4m3 PV: f16 operands
        // (SASS writes no type suffix for f16 inputs: ".F32 R" against ".F32.BF16 R").
        // QGMMA (WG 2, and WG 3: its converter warps; WG 4: one tile at a time per consumer
        // warpgroup, each product once, the P V as two m64n128k16 chains over O's halves)
        const bool q_e4m3 = e4m3 && f->wg >= 2;
        const bool pair = f->wg == 4;
        const long long sites = (d == 64 || q_e4m3) && !pair ? 2 : 1;
        const long long pv = pair ? 8 : 4;  // P V wgmmas per site
        const bool q_tile = d == 256 && !q_e4m3;  // the 16-bit Q tile
        const std::string ab = e4m3 ? "" : ".BF16";
        auto regex_count = [&](const char* re) {
          const std::regex rx(re);
          return static_cast<long long>(std::distance(std::sregex_iterator(sass.begin(), sass.end(), rx),
                                                      std::sregex_iterator()));
        };
        CHECK(count("HMMA") == 0);
        CHECK(count("LDSM") == 0);
        const long long qk = q_e4m3 ? 0 : d / 16;  // 16-bit QK wgmmas
        CHECK(count("HGMMA") == sites * (qk + pv));
        CHECK(occurrences("HGMMA.64x64x16.F32" + ab + " R") == sites * (qk + (d == 64 ? 4 : 0)));
        // 16-bit A in shared memory: the d256 Q tile's QK wgmmas only
        CHECK(regex_count(R"(HGMMA\S*\s+R[0-9]+, gdesc\[)") == (q_tile ? sites * qk : 0));
        CHECK(regex_count(R"(HGMMA\S*\s+R[0-9]+, R[0-9]+, gdesc\[)") == sites * (q_tile ? 4 : qk + pv));
        CHECK(count("QGMMA") == (q_e4m3 ? sites * 2 * d / 32 : 0));
        CHECK(occurrences("QGMMA.64x64x32.F32.E4M3.E4M3 R") == (q_e4m3 ? sites * 2 * d / 32 : 0));
        CHECK(regex_count(R"(QGMMA\S*\s+R[0-9]+, gdesc\[)") == (q_e4m3 ? sites * 2 * d / 32 : 0));
        // the e4m3 QK's S accumulators (the QGMMAs' first register): one, or at d256 one per
        // 128-byte column block of K (config.ptxh FOR_Q32_S0 / _S1), each summing 2 x 4 k-steps
        // per site as d128's one does
        if (q_e4m3) {
          std::map<std::string, int> accs;
          const std::regex acc_rx(R"(QGMMA\S*\s+(R[0-9]+),)");
          for (auto it = std::sregex_iterator(sass.begin(), sass.end(), acc_rx); it != std::sregex_iterator(); ++it)
            ++accs[(*it)[1].str()];
          CHECK(accs.size() == (d == 256 ? 2u : 1u));
          for (const auto& a : accs) CHECK(a.second == sites * 2 * std::min<long long>(d, 128) / 32);
        }
        CHECK(occurrences("HGMMA.64x" + std::to_string(pair ? d / 2 : d) + "x16.F32" + ab + " ") >= pv * sites);
        CHECK(occurrences(".tnspB") == pv * sites);  // only PV transposes B (V, MN-major)
        // Not serialized by ptxas (C7520 puts an ARRIVE / DEPBAR pair around every wgmma). The
        // pipelined loops: three wgmma.fence (first round, loop, last round) and four wait_group
        // (first round's S, the loop's S behind PV and its PV, the last PV); the serial loops one
        // fence and one wait per product.
        CHECK(occurrences("WARPGROUP.ARRIVE") == (sites == 2 ? 3 : 2));
        CHECK(occurrences("WARPGROUP.DEPBAR.LE") == (sites == 2 ? 4 : 2));
        if (e4m3) {
          // the conversion into the f16 copies: per thread and tile D / 16 passes, one 8-byte load
          // and one 16-byte store each: of V in the pipelined loop's first round and loop, plain
          // and tail
          // (WG 4: one virtual thread per converter thread, plain and tail: 2 x D / 16)
          CHECK(occurrences("LDS.64 ") >= (pair ? 2 : 4) * d / 16);
          CHECK(occurrences("STS.128 ") >= (pair ? 2 : 4) * d / 16);
          // WG 3 (the converter warps convert V, converter.ptxh): no conversion between the
          // consumers' first QGMMA and their last HGMMA (WG 2's loop converts there: 4 x D / 16
          // per site, the same counter over its SASS)
          const std::size_t first_q = sass.find("QGMMA"), last_h = sass.rfind("HGMMA");
          REQUIRE(first_q != std::string::npos);
          REQUIRE(last_h != std::string::npos);
          const long long in_loop =
              occurrences_in(sass.substr(first_q, last_h - first_q), "F2FP.F16.E4M3.UNPACK_B");
          if (f->wg == 3 || f->wg == 4) CHECK(in_loop == 0);
          if (f->wg == 2) CHECK(in_loop >= d / 4);
        }
      }
      // e4m3 -> f16 after the load: D/4 per product and sub-block (none for bf16); the
      // _e4m3_wg rows (WG 2) D / 4 per V tile (D / 16 passes of 4 cvt, 128 threads) in the
      // first round's and the loop's plain and tail conversions (4 x D / 4), and Q hi back to f16
      // once per Q fragment register (D / 4) for lo = Q s - hi; Q s -> e4m3 (hi and lo) 2 x D / 4
      // (F2FP.SATFINITE.E4M3.F32)
      // (WG 4's converter threads one virtual thread each: 2 x D / 4 for V, D / 4 for Q: 3 D / 4)
      CHECK(occurrences("F2FP.F16.E4M3.UNPACK_B") ==
            (!e4m3 ? 0 : f->wg == 0 ? d / 2 : f->wg == 4 ? 3 * d / 4 : 5 * d / 4));
      CHECK(occurrences("F2FP.SATFINITE.E4M3.F32") == (e4m3 && f->wg >= 2 ? 2 * d / 4 : 0));
      // K and V, one box per column block (bf16: 64 columns; e4m3: 128, or 64 at head dim 64)
      const long long col_blocks = e4m3 ? (d < 128 ? 1 : d / 128) : d / 64;
      CHECK(count("UTMALDG") == 2 * col_blocks * f->heads);  // _h2: both heads' boxes
      // one elected lane issues them (producer.ptxh: elect.sync): no per-lane loop (BRA.U.ANY)
      // around a TMA, as the lane-0 branch left one per UTMALDG (the test below). (WG 4's
      // producer, at 32 registers, keeps the box's operands in uniform registers and issues the
      // UTMALDGs, uniform instructions issued once per warp, without an ELECT.)
      if (f->wg != 4) CHECK(count("ELECT") >= 1);
      // The plain bf16 rows (config.ptxh CPASYNC; on the host decode_row_cpasync, which the plan
      // reads: held to the cubins here) load a contiguous cache with cp.async: a full tile's D / 2
      // LDGSTS per lane (K and V, 64 / (32 / (D / 8)) rows each; ptxas unrolls CA_FULL's 8
      // periods), and one of K and one of V in the last
      // tile's row loop (with their global descriptor operand); one noinc arrive per lane on the
      // full barrier (ARRIVES.LDGSTSBAR.64.ARVCNT, in ptxas's loop over the lanes' barrier
      // addresses: at most one BRA.U.ANY).
      const bool cpasync = ptxfmha::decode_row_cpasync(r);
      CHECK(count("LDGSTS") == (cpasync ? 2 + d / 2 : 0));
      CHECK(count("ARRIVES") == (cpasync ? 1 : 0));
      CHECK(occurrences("ARRIVES.LDGSTSBAR.64.ARVCNT") == (cpasync ? 1 : 0));  // the noinc form (s30)
      CHECK(occurrences("SYNCS.ARRIVE.TRANS64.RED") == 0);  // the inc form's raise of the pending count
      CHECK(occurrences("BRA.U.ANY") <= (cpasync ? 1 : 0));
      CHECK((occurrences("], desc[") > 0) == (f->l2_hint != 0 || cpasync));  // the L2 policy operand
      CHECK(count("SYNCS") > 0);          // mbarrier full / empty ring
      CHECK(count("PREEXIT") == 1);       // griddepcontrol.launch_dependents (PDL)
      CHECK(count("ACQBULK") == 0);
      // the _ho rows' tickets (ho_on.ptxh): lane 0's first and its one-ahead atom on the unit's
      // counter; no other row touches global memory atomically
      CHECK(count("ATOMG") == (f->handout != 0 ? 2 : 0));
      // The cluster merge (_cl): two cluster barriers (arrive + wait each; ptxas may emit a
      // uniform and a divergent copy) and the peers' partials through the shared::cluster
      // window (generic LD: 16 LSE loads + 16 v4 O loads); none of it in the other rows.
      if (f->cluster != 0) {
        CHECK(count("UCGABAR_ARV") >= 2);
        CHECK(count("UCGABAR_WAIT") >= 2);
        CHECK(occurrences(" LD.E.128 ") >= 16);
      } else {
        CHECK(count("UCGABAR_ARV") == 0);
        CHECK(count("UCGABAR_WAIT") == 0);
      }
      MESSAGE(std::string(r->name) << ": HMMA " << count("HMMA") << ", LDSM " << count("LDSM") << ", UNPACK "
                      << occurrences("F2FP.F16.E4M3.UNPACK_B") << ", UTMALDG " << count("UTMALDG") << ", SYNCS "
                      << count("SYNCS") << ", PREEXIT " << count("PREEXIT") << ", LDL/STL "
                      << count("LDL") + count("STL"));
    } else {
      CHECK(count("ACQBULK") == 1);       // griddepcontrol.wait before reading the workspace
      CHECK(count("HMMA") == 0);
      CHECK(count("UTMALDG") == 0);
      MESSAGE(std::string(r->name) << ": ACQBULK " << count("ACQBULK") << ", LDL/STL "
                      << count("LDL") + count("STL"));
    }
    ++checked[r->arch];
  }
  // Both architectures' decode cubins are covered: 3 split + 3 combine kernels each, 16 split
  // variants (the wide d64 twin _s3, the e4m3 and bf16 d64 _h2 included), 3 sink combine kernels, 12
  // cluster-merge rows; sm90a also the 12 warpgroup rows (_wg, _wg_cl, _e4m3_wg, _e4m3_wg_cl at
  // head dims 64, 128 and 256).
  CHECK(checked["sm90a"] == 6 + 16 + 3 + 12 + 12 + 2 + 2 + 3);  // + d256's converter-warp rows (WG 3, 4), _ho
  CHECK(checked["sm100a"] == 6 + 16 + 3 + 12 + 3);
}

// The _ho rows' SASS contract above counts two ATOMG (ho_on.ptxh: the first ticket and the
// one-ahead ticket HO_TAKE_NEXT takes); with the one-ahead atom removed (the chunk's own ticket
// taken when the chunk starts, n1's form, which waited for the counter's round trip at every
// chunk) the count is 1, so the contract catches it. Assembled from the preprocessed PTX of the
// d128 _ho row for sm_90a.
TEST_CASE("decode _ho producer: the one-ahead ticket removed leaves one ATOMG" * doctest::test_suite("sass")) {
  bool ok = false;
  const std::string name = "fmha_decode_d128_ho_sm90a";
  const std::string text = read_text_file(preprocessed_path("sm90a", name), &ok);
  REQUIRE_MESSAGE(ok, "missing preprocessed PTX of " << name << " (run make)");
  const std::string atom = "atom.global.add.u32 %ho_cn";
  const std::size_t first = text.find(atom);
  REQUIRE(first != std::string::npos);
  const std::size_t second = text.find(atom, first + 1);  // HO_TAKE_NEXT's
  REQUIRE(second != std::string::npos);
  CHECK(text.find(atom, second + 1) == std::string::npos);
  const std::size_t end = text.find(';', second);
  REQUIRE(end != std::string::npos);
  // the guard (@%p_lane0) stays: a predicated mov in the atom's place
  const std::string mutated = text.substr(0, second) + "mov.u32 %ho_cn, %ho_c" + text.substr(end);
  CHECK(sm90a_sass_count(text, "ATOMG") == 2);
  CHECK(sm90a_sass_count(mutated, "ATOMG") == 1);
}
