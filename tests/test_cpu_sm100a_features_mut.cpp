// CPU mutation test of the sm100a EXT rows' feature code (issue 14): one-instruction edits of the
// preprocessed PTX (clamps, the band, the stores, the cursor, the softcap flag, seqused_k, the paged
// boxes and the V tail fix), each executed on the case that exposes it through check_case
// (tests/sm100a_feature_cases.h): every edit must be caught.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "sm100a_feature_cases.h"

using namespace sm100a_feat;

TEST_CASE("sm100a protocol mutations: feature variants (edits of the feature code are caught)") {
  const Kern* k = nullptr;
  for (const Kern& x : ext_kernels())
    if (x.name == "fmha_fwd_d128_ext_sm100a") k = &x;
  REQUIRE(k != nullptr);
  const std::vector<sm100_ptx::Stmt> st0 = statements(*k);
  struct Edit {
    const char* what;
    const char* prefix;  // the statement replaced by a no-op (its first occurrence in the role order)
    int occurrence;
    int case_index;      // which of cases() exposes it (-1: the bad-metadata case below; -i, i >= 2: bad_cases()[i])
  };
  const Edit edits[] = {
      {"the band's first key not clamped at 0 (kb = max(.., 0))", "max.s32 %k_j0, %k_j0, 0", 0, 0},
      {"an empty band not emptied (n = 0 when kb >= ke)", "@%p mov.u32 %n_tiles, 0", 0, 3},
      {"K/V rows not offset by the band's first tile", "add.u32 %kv_row, %t1, %k_j0", 0, 2},
      {"the window's right edge dropped from the row's keys", "add.sat.s32 %lim, %t0, %t2", 0, 2},
      {"the left edge's test dropped from the mask", "setp.le.and.s32 %p, %clo_chunk,", 0, 2},
      {"softcap run with its flag off (the flag's branch gone)", "@%p bra SOFTMAX_SOFTCAP_DONE", 0, 2},
      {"cu_seqlens_q[b] not clamped to total_q", "min.s32 %vs_start, %t0, %t2", 0, -1},
      {"O stored by TMA for a group that crosses len_q", "setp.gt.s32 %p, %t2, %lim", 0, 0},
      {"the varlen sequence cursor not advanced", "mov.u32 %vs_t0, %vs_end", 0, 0},
      // seqused_k, paged K/V and the V tail fix (KV_ISSUE_EXT)
      {"a page id not clamped to the pool (num_pages)", "min.u32 %kpage, %kpage, %t1", 0, -2},
      {"seqused_k not clamped to the sequence's keys", "min.s32 %k_len, %t0, %k_len", 0, -3},
      {"V rows zeroed from a stale start (not row kv_valid)", "shl.b32 %t1, %kv_valid, 7", 0, 5},
      {"no fence.proxy.async between the zeros and kv_full", "fence.proxy.async", 0, 5},
      {"the V tail fix taken by K tiles too", "selp.u32 %t1, 0, %t1, %p_k", 0, 5},
      {"paged: boxes past the keys issued", "shr.u32 %krows, %krows, %t2", 0, 6},
      {"paged: the key's row in its page not masked", "and.b32 %krow, %krow, %t1", 0, 8},
  };
  Case badc;
  badc.what = "cu_seqlens_q past total_q";
  badc.batch = 2;
  badc.cu_q = {0, 700, 1400};
  badc.max_q = 700, badc.total_q = 500, badc.seqlen_k = 300;
  const std::vector<Case> cs = cases();
  int caught = 0;
  for (const Edit& e : edits) {
    INFO(std::string(e.what));
    std::vector<sm100_ptx::Stmt> st = st0;
    int seen = 0, replaced = 0;
    for (sm100_ptx::Stmt& x : st)
      if ((e.prefix[0] == '@' ? x.text : sm100_ptx::body(x.text)).rfind(e.prefix, 0) == 0 && seen++ >= e.occurrence) {
        x.text = "mov.u32 %t3, %t3";  // the instruction gone, every copy of it (all roles)
        ++replaced;
      }
    REQUIRE_MESSAGE(replaced > 0, "no '" << std::string(e.prefix) << "' in the kernel");
    // The unedited kernel passes the case (the first test), the edited one must not.
    const std::vector<Case> bads = bad_cases();
    const Case& c = e.case_index >= 0 ? cs[static_cast<std::size_t>(e.case_index)]
                    : e.case_index == -1 ? badc
                                         : bads[static_cast<std::size_t>(-e.case_index)];
    Tally t;
    std::string why;
    const bool passed = check_case(*k, st, c, 1, &t, e.case_index < 0, &why);
    if (!passed) MESSAGE("caught: " << std::string(e.what) << ": " << why);
    CHECK_MESSAGE(!passed, "the edit '" << std::string(e.what) << "' went unnoticed");
    if (!passed) ++caught;
  }
  CHECK(caught == static_cast<int>(sizeof(edits) / sizeof(edits[0])));
  MESSAGE("feature mutations: " << caught << " of " << sizeof(edits) / sizeof(edits[0]) << " edits of the EXT PTX caught");
}
