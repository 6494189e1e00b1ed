// Fixtures of the backward's CPU validation tests (tests/test_cpu_bwd_validate.cpp,
// tests/test_cpu_bwd_varlen.cpp): a valid fixed-length problem on fake pointers (validation
// never dereferences them), the status-and-message check of ptxfmha_bwd and
// ptxfmha_bwd_workspace_size, and the table form of one-mutation cases.
#pragma once
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "ptxfmha/ptxfmha.h"
#include "validate_fixtures.h"

namespace ptxfmha_test {
namespace bwd_fixtures {

// Distinct, 16-byte aligned, far-apart fake device addresses.
using ptxfmha_test::fake;  // validate_fixtures.h

inline void dense(int64_t* bs, int64_t* ss, int64_t* hs, int seq, int heads, int d) {
  *hs = d;
  *ss = int64_t(heads) * d;
  *bs = int64_t(seq) * heads * d;
}

// A valid problem: B=2, Sq=300, Sk=500, Hq=8, Hkv=2, D=128, dense BSHD everywhere.
inline ptxfmha_bwd_params valid() {
  ptxfmha_bwd_params p;
  ptxfmha_bwd_params_init(&p);
  p.batch = 2; p.seqlen_q = 300; p.seqlen_k = 500; p.heads_q = 8; p.heads_kv = 2; p.head_dim = 128;
  p.q = fake(1); p.k = fake(2); p.v = fake(3); p.o = fake(4); p.dout = fake(5);
  p.lse = static_cast<const float*>(fake(6));
  p.dq = fake(7); p.dk = fake(8); p.dv = fake(9);
  p.workspace = fake(10);
  dense(&p.q_batch_stride, &p.q_seq_stride, &p.q_head_stride, 300, 8, 128);
  dense(&p.o_batch_stride, &p.o_seq_stride, &p.o_head_stride, 300, 8, 128);
  dense(&p.dout_batch_stride, &p.dout_seq_stride, &p.dout_head_stride, 300, 8, 128);
  dense(&p.dq_batch_stride, &p.dq_seq_stride, &p.dq_head_stride, 300, 8, 128);
  dense(&p.k_batch_stride, &p.k_seq_stride, &p.k_head_stride, 500, 2, 128);
  dense(&p.v_batch_stride, &p.v_seq_stride, &p.v_head_stride, 500, 2, 128);
  dense(&p.dk_batch_stride, &p.dk_seq_stride, &p.dk_head_stride, 500, 2, 128);
  dense(&p.dv_batch_stride, &p.dv_seq_stride, &p.dv_head_stride, 500, 2, 128);
  p.softmax_scale = 0.0884f;
  p.causal = 1;
  uint64_t ws = 0;
  REQUIRE(ptxfmha_bwd_workspace_size(&p, &ws) == PTXFMHA_OK);
  p.workspace_bytes = ws;
  return p;
}

// A valid packed (variable-length) problem: B=3, total_q=700 (max 300), total_k=1000 (max
// 500), Hq=8, Hkv=2, D=128, dense packed rows (batch strides 0), cu_seqlens_q / _k and
// seqused_k at fake(23..25), causal.
inline ptxfmha_bwd_params valid_varlen() {
  ptxfmha_bwd_params p = valid();
  p.batch = 3; p.seqlen_q = 0; p.seqlen_k = 0;
  p.max_seqlen_q = 300; p.total_q = 700; p.max_seqlen_k = 500; p.total_k = 1000;
  p.cu_seqlens_q = static_cast<const int32_t*>(fake(23));
  p.cu_seqlens_k = static_cast<const int32_t*>(fake(24));
  p.seqused_k = static_cast<const int32_t*>(fake(25));
  p.q_batch_stride = p.o_batch_stride = p.dout_batch_stride = p.dq_batch_stride = 0;
  p.k_batch_stride = p.v_batch_stride = p.dk_batch_stride = p.dv_batch_stride = 0;
  uint64_t ws = 0;
  REQUIRE(ptxfmha_bwd_workspace_size(&p, &ws) == PTXFMHA_OK);
  p.workspace_bytes = ws;
  return p;
}

// `status` from ptxfmha_bwd, and (unless the check concerns the workspace) from
// ptxfmha_bwd_workspace_size, each with `needle` in the message.
inline void expect_error(const ptxfmha_bwd_params& p, ptxfmha_status status, const char* needle,
                  bool workspace_check = false) {
  CHECK(ptxfmha_bwd(&p) == status);
  const std::string m1 = ptxfmha_last_error();
  CHECK_MESSAGE(m1.find(needle) != std::string::npos, "message '" << m1 << "' does not name " << needle);
  uint64_t bytes = 12345;
  const ptxfmha_status ws = ptxfmha_bwd_workspace_size(&p, &bytes);
  if (workspace_check) {
    CHECK(ws == PTXFMHA_OK);
  } else {
    CHECK(ws == status);
    CHECK(bytes == 12345);  // not written on failure
    const std::string m2 = ptxfmha_last_error();
    CHECK_MESSAGE(m2.find(needle) != std::string::npos, "message '" << m2 << "' does not name " << needle);
  }
}

// One bad argument: `mutate` applied to the valid problem gives status `st` naming `needle`.
struct BadCase {
  const char* needle;
  ptxfmha_status st;
  void (*mutate)(ptxfmha_bwd_params&);
};
// (base: the valid problem the cases mutate, valid() or valid_varlen().)
template <std::size_t N>
void expect_bad_cases(const BadCase (&cases)[N], ptxfmha_bwd_params (*base)() = valid) {
  for (const BadCase& c : cases) {
    CAPTURE(c.needle);
    ptxfmha_bwd_params p = base();
    c.mutate(p);
    expect_error(p, c.st, c.needle);
  }
}

}  // namespace bwd_fixtures
}  // namespace ptxfmha_test
