// CPU tests: the decode kernels' parameter block ABI.
//   - ptx/include/decode_params.ptxh names every DecodeKernelParams field at its offsetof(),
//     and DECODE_PARAM_BYTES is sizeof(DecodeKernelParams);
//   - every Decode / DecodeCombine row takes a DecodeKernelParams block, and its preprocessed
//     .ptx declares `.param .align 64 .b8 dparams[sizeof(DecodeKernelParams)]`;
//   - the split kernels' shared-memory budget holds the ring, the barriers and the epilogue;
//   - sm90a and sm100a assemble the same bodies, so their rows carry the same numbers;
//   - the SASS of every decode cubin (both architectures) keeps the design's contract.
// (test_kernel_table.cpp ties every row's KERNEL_* macros and .maxntid to the table.)
#include <doctest/doctest.h>

#include <cstddef>
#include <map>
#include <set>
#include <string>

#include "decode.h"
#include "decode_abi.h"
#include "gpu_util.h"
#include "ptx_util.h"
#include "runtime.h"

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
  };
#undef PTXFMHA_FIELD
  check_param_header(macros, path, "DP_", "DECODE_PARAM_BYTES", fields, offsetof(DecodeKernelParams, reserved),
                     sizeof(DecodeKernelParams::reserved), sizeof(DecodeKernelParams));
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
TEST_CASE("decode kernel rows: sm100a rows mirror the sm90a rows (same bodies, same numbers)") {
  int pairs = 0;
  for (const KernelInfo* a : ptxfmha::all_kernels()) {
    if (a->kind != KernelKind::Decode && a->kind != KernelKind::DecodeCombine) continue;
    if (std::string(a->arch) != "sm90a") continue;
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
    // The rows select the same kernels through the public lookup.
    CHECK(ptxfmha::find_kernel(100, a->kind, a->head_dim) == b);
    CHECK(ptxfmha::find_kernel(90, a->kind, a->head_dim) == a);
    ++pairs;
  }
  CHECK(pairs == 6);  // d64, d128, d256 x (split, combine)
  int sm100_rows = 0;
  for (const KernelInfo* r : ptxfmha::all_kernels())
    if ((r->kind == KernelKind::Decode || r->kind == KernelKind::DecodeCombine) && std::string(r->arch) == "sm100a")
      ++sm100_rows;
  CHECK(sm100_rows == pairs);
}

TEST_CASE("decode split kernels: shared memory holds ring, barriers and epilogue scratch") {
  for (const auto& s : ptx_sources()) {
    const KernelInfo* row = find_row(s.name);
    if (row == nullptr || row->kind != KernelKind::Decode) continue;
    CAPTURE(s.path);
    bool ok = false;
    std::string err;
    const auto macros = cpp_macros(s.path, &ok, &err);
    REQUIRE_MESSAGE(ok, err);
    const long long stages = macro_value(macros, "KERNEL_STAGES", s.path);
    const long long d = row->head_dim;
    const long long ring_bytes = stages * 2 * 64 * d * 2;             // K + V tiles, bf16
    const long long epi_bytes = 4 * 16 * (d + 8) * 4 + 4 * 16 * 8;    // O parts + (m, l)
    CHECK(stages >= 2);
    CHECK(stages <= 8);                                                // 8 full + 8 empty barriers
    CHECK(row->smem_bytes == 1024 + ring_bytes + 128);
    CHECK(epi_bytes <= ring_bytes);
    CHECK(row->smem_bytes <= 227 * 1024);                             // sm_90 and sm_100 opt-in limit
  }
}

// Read with cuobjdump -sass (CUDA 13.0) on 2026-11-24 for both folders: the sm90a and sm100a
// cubins of one head dim have the same counts of these opcodes. Split kernel d128: 32
// HMMA.16816.F32.BF16 (mma.sync.m16n8k16 bf16 -> f32), 8 LDSM.16.M88.4 (ldmatrix.x4 of K)
// + 8 LDSM.16.MT88.4 (.trans, V), 4 UTMALDG.4D (cp.async.bulk.tensor), SYNCS.* (mbarrier
// init / arrive.expect_tx / try_wait), one PREEXIT (griddepcontrol.launch_dependents), no
// LDL/STL. Combine kernel: one ACQBULK (griddepcontrol.wait), no HMMA, no TMA, no LDL/STL.
// The sm100a code differs only in generic scheduling (LDCU constant loads, FMNMX3,
// BSSY.RECONVERGENT).
TEST_CASE("decode SASS contract: mma.sync on the tensor cores, TMA loads, PDL, no local memory" *
          doctest::test_suite("sass")) {
  const std::string tool = cuobjdump_path();
  REQUIRE(!tool.empty());
  std::map<std::string, int> checked;  // arch -> decode cubins checked
  for (const KernelInfo* r : ptxfmha::all_kernels()) {
    if (r->kind != KernelKind::Decode && r->kind != KernelKind::DecodeCombine) continue;
    CAPTURE(r->name);
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
    CHECK(count("LDL") == 0);
    CHECK(count("STL") == 0);
    if (r->kind == KernelKind::Decode) {
      const long long d = r->head_dim;
      // per 16-key sub-block: D/16 k-steps x 2 mma (QK) + D/16 x 2 mma (PV), unrolled once
      CHECK(count("HMMA") == d / 4);
      const auto hmma = fns[0].first_line.find("HMMA");
      if (hmma != fns[0].first_line.end())  // m16n8k16, bf16 inputs, f32 accumulators
        CHECK_MESSAGE(hmma->second.find("HMMA.16816.F32.BF16 ") != std::string::npos, hmma->second);
      CHECK(count("LDSM") == d / 8);      // ldmatrix.x4 of K and (.trans) of V per k-step
      CHECK(count("UTMALDG") == 2 * (d / 64));  // K and V, one per 64-column block
      CHECK(count("SYNCS") > 0);          // mbarrier full / empty ring
      CHECK(count("PREEXIT") == 1);       // griddepcontrol.launch_dependents (PDL)
      CHECK(count("ACQBULK") == 0);
      MESSAGE(std::string(r->name) << ": HMMA " << count("HMMA") << ", LDSM " << count("LDSM") << ", UTMALDG "
                      << count("UTMALDG") << ", SYNCS " << count("SYNCS") << ", PREEXIT " << count("PREEXIT")
                      << ", LDL/STL " << count("LDL") + count("STL"));
    } else {
      CHECK(count("ACQBULK") == 1);       // griddepcontrol.wait before reading the workspace
      CHECK(count("HMMA") == 0);
      CHECK(count("UTMALDG") == 0);
      MESSAGE(std::string(r->name) << ": ACQBULK " << count("ACQBULK") << ", LDL/STL "
                      << count("LDL") + count("STL"));
    }
    ++checked[r->arch];
  }
  // Both architectures' decode cubins are covered: 3 split + 3 combine kernels each.
  CHECK(checked["sm90a"] == 6);
  CHECK(checked["sm100a"] == 6);
}
