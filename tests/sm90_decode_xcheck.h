// What the sm90 decode CUTLASS cross-checks share (test_cpu_sm90_decode_cutlass.cpp: the
// warpgroup rows' descriptors, Q tile and f16 copies; test_cpu_sm90_decode_cpasync.cpp: the plain
// rows' cp.async producer): a row's preprocessed PTX as statements, an integer expression of it,
// TMA's 128-byte swizzle, a CuTe layout's byte offset and a text mutation of the statements.
// It brings CuTe in (cute_host_shim.h first): include it inside PTXFMHA_HAVE_CUTLASS, before any
// other CuTe header.
#ifndef PTXFMHA_TESTS_SM90_DECODE_XCHECK_H
#define PTXFMHA_TESTS_SM90_DECODE_XCHECK_H

#include "cute_host_shim.h"  // the shared-memory address of a host pointer (before CuTe)
#include <cute/atom/mma_traits_sm90_gmma.hpp>
#include <cute/tensor.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "decode_rows.h"
#include "ptx_util.h"
#include "sm100_model/ptx_roles.h"
#include "sm90_decode_interp.h"

namespace sm90_decode_xcheck {

inline long long eval_or_throw(const std::string& e) {
  long long v = 0;
  std::string err;
  if (!int_expr(e, &v, &err)) throw std::runtime_error("cannot evaluate '" + e + "': " + err);
  return v;
}

// TMA's 128-byte swizzle of a box of 128-byte rows, column block cb of 64 16-bit columns (8192
// bytes a block of 64 rows): element (row, col) of a 64 x D tile (K, V, the Q tile, the copies).
inline long long sw128_offset(int row, int col) {
  const int cb = col / 64, c = col % 64;
  return cb * 8192 + row * 128 + (((c / 8) ^ (row % 8)) * 16) + (c % 8) * 2;
}

// The byte offset of element (a, b) of a CuTe shared-memory layout: its swizzle (GMMA's
// Sw<3,4,3> for the 128-byte swizzle) acts on byte addresses (smem_ptr_flag), so on the inner
// layout's element offset times the element's bytes.
template <class T, class L>
long long layout_bytes(const L& l, int a, int b) {
  return static_cast<long long>(l.layout_a()(static_cast<int>(sizeof(T)) * l.layout_b()(a, b)));
}

inline std::vector<Stmt> statements_of(const ptxfmha::KernelInfo* r) {
  bool ok = false;
  const std::string text = ptxfmha_test::read_text_file(ptxfmha_test::preprocessed_path(r->arch, r->name), &ok);
  if (!ok) throw std::runtime_error(std::string("missing preprocessed PTX of ") + r->name + " (run make)");
  return sm100_ptx::parse_statements(text);
}

// `from` -> `to` in every statement (first: in the first statement that has it only).
inline bool replace_text(std::vector<Stmt>& st, const std::string& from, const std::string& to, bool first = false) {
  bool applied = false;
  for (Stmt& s : st) {
    const std::size_t at = s.text.find(from);
    if (at == std::string::npos) continue;
    s.text.replace(at, from.size(), to);
    applied = true;
    if (first) break;
  }
  return applied;
}

}  // namespace sm90_decode_xcheck
#endif
