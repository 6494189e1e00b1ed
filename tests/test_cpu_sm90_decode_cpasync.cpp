// "sm90 decode cutlass cross-check" of the plain bf16 rows' cp.async producer (config.ptxh
// CPASYNC, producer.ptxh; split from test_cpu_sm90_decode_cutlass.cpp, whose interpreter and
// helpers it shares: tests/sm90_decode_interp.h, tests/sm90_decode_xcheck.h): every lane's copies
// of both paths of a tile (full tiles by periods, the split's partial last tile row by row) land
// where TMA's 128-byte swizzle and CUTLASS's K-major SW128 layout put their row and chunk, each
// 16-byte chunk once, from that row and chunk of the sequence's KV head in the cache (the
// sources, through the parameter block's pointers and strides); the full barrier's count matches
// the lanes' noinc arrivals; and the mutations those checks must catch.
// CUTLASS: PyPI nvidia-cutlass 4.2.0.0 (tools/deps.d/40-cutlass.sh -> .deps/cutlass; tests/tests.mk
// gives this object the cross-checks' flags). Without the package the test cases report
// themselves skipped, never passed.
#include <cstddef>
#include <cstdint>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "decode_abi.h"
#include "decode_rows.h"

#if PTXFMHA_HAVE_CUTLASS
#include "sm90_decode_xcheck.h"  // CuTe (after cute_host_shim.h), the interpreter, the helpers

namespace {

using namespace cute;
using namespace sm90_decode_xcheck;  // Stmt, Interp (sm90_decode_interp.h), the helpers (sm90_decode_xcheck.h)
using cutlass_xcheck::Tally;

// ---- the cp.async producer of the plain bf16 rows (config.ptxh CPASYNC, producer.ptxh) -------
// Lane l's setup (CPASYNC_SETUP: its chunk of a row, left in %t1 as the chunk's byte offset in
// the global row, and its first row %ca_h; then CPASYNC_PERIOD_SETUP's destinations), then both
// paths of a tile: CA_FULL's period (the CA_COPY list, once per period q with %ca_dd = 1024 q
// held: rows %ca_h + CA_RPI m + 8 q) and CA_ROW's body (once per row of the lane, %ca_r held).
// Each path's copies, K's then V's, against TMA's 128-byte swizzle of (row, chunk) (sw128_offset)
// and CUTLASS's K-major SW128 layout of the 64 x D bf16 tile, V's one tile (64 x D x 2 bytes)
// further (%dst, the stage, at 0); every 16-byte chunk of both tiles copied exactly once by each
// path over the 32 lanes. The sources: CA_FULL's running pointers from the tile's start (key 64)
// through its 8 periods, CA_ROW's per row, against k_ptr / v_ptr + batch + head + row x seq
// stride + the lane's chunk (tests/sm90_decode_interp.h runs the 64-bit arithmetic and ld.param).
template <int D>
void check_cpasync(const std::string& name, const std::vector<Stmt>& st, Tally& t) {
  auto find = [&](const std::string& needle) -> long {
    for (std::size_t i = 0; i < st.size(); ++i)
      if (st[i].text.find(needle) != std::string::npos) return static_cast<long>(i);
    return -1;
  };
  const long s0 = find("ld.param.u64 %ca_kb,"), s1 = find("shr.u32 %ca_h, %lane,"), s2 = find("mul.lo.u64 %ca_step,");
  const long f0 = find("add.u32 %t2, %ca_dd, %ca_o0"), f1 = find("add.u32 %ca_dd, %ca_dd,");
  const long b0 = find("add.u32 %t0, %key0, %ca_r"), b1 = find("add.u32 %ca_r, %ca_r,");
  const long fs = find("add.u32 %t0, %key0, %ca_h");  // CA_FULL's running sources, before f0
  const bool found = s0 >= 0 && s1 > s0 && s2 > s1 && f0 > s2 && f1 > f0 && b0 > f1 && b1 > b0 && fs > s2 && f0 > fs;
  t.truth(name + ": the cp.async producer's setup, full-tile period and row loop found", found);
  if (!found) return;
  auto third = [&](long i) {
    std::string op;
    const std::vector<std::string> o = sm100_ptx::operands(sm100_ptx::body(st[i].text), &op);
    return o.size() == 3 ? eval_or_throw(o[2]) : 0;
  };
  const long long rows_per_step = third(b1), period_bytes = third(f1);
  t.truth(name + ": a row step and a period of 8 rows of 128 bytes", rows_per_step > 0 && period_bytes == 1024);
  if (rows_per_step <= 0 || period_bytes != 1024) return;
  auto kl = tile_to_shape(GMMA::Layout_K_SW128_Atom<bfloat16_t>{}, make_shape(Int<64>{}, Int<D>{}));
  const long long v_off = 64LL * D * 2;
  std::map<long long, int> seen_full, seen_tail;  // destination byte -> copies
  bool ok = true;
  std::string first_bad;
  // (row, col)'s copies: K's at TMA's place (= CUTLASS's), V's one tile further
  auto expect = [&](const std::vector<long long>& got, std::size_t at, long long row, int col, const std::string& where) {
    const long long want = sw128_offset(static_cast<int>(row), col);
    const long long cute = layout_bytes<bfloat16_t>(kl, static_cast<int>(row), col);
    const bool match = got.size() >= at + 2 && got[at] == want && got[at + 1] == want + v_off && want == cute;
    if (!match && ok)
      first_bad = where + " row " + std::to_string(row) + " col " + std::to_string(col) + ": copies to " +
                  (got.size() > at ? std::to_string(got[at]) : std::string("-")) + " / " +
                  (got.size() > at + 1 ? std::to_string(got[at + 1]) : std::string("-")) + ", TMA's " +
                  std::to_string(want) + ", CUTLASS's " + std::to_string(cute);
    ok = ok && match;
  };
  // The sources: a parameter block of distinct strides (bytes), sequence 2 and KV head 3; K's 16
  // bytes of (row, chunk) at k_ptr + 2 x batch + 3 x head + row x seq + chunk, V's at v_ptr + the
  // same; each copy's source checked with its destination.
  const long long k_ptr = 1LL << 40, v_ptr = 3LL << 40, batch_b = 0x300000, seq_b = 5120, head_b = 384;
  bool src_ok = true;
  std::string first_bad_src;
  auto expect_src = [&](const std::vector<long long>& got, std::size_t at, long long row, long long chunk_b,
                        const std::string& where) {
    const long long k = k_ptr + 2 * batch_b + 3 * head_b + row * seq_b + chunk_b, v = k - k_ptr + v_ptr;
    const bool match = got.size() >= at + 2 && got[at] == k && got[at + 1] == v;
    if (!match && src_ok)
      first_bad_src = where + " row " + std::to_string(row) + ": sources " +
                      (got.size() > at ? std::to_string(got[at] - k_ptr) : std::string("-")) + " / " +
                      (got.size() > at + 1 ? std::to_string(got[at + 1] - v_ptr) : std::string("-")) +
                      " past k_ptr / v_ptr, expected " + std::to_string(k - k_ptr);
    src_ok = src_ok && match;
  };
  for (int lane = 0; lane < 32; ++lane) {
    const std::string who = "lane " + std::to_string(lane);
    Interp in;
    in.set("%lane", lane);
    in.set("%bidx", 2);
    in.set("%kvh", 3);
    in.preds["%p_paged"] = false;
    in.params[offsetof(ptxfmha::DecodeKernelParams, k_ptr)] = k_ptr;
    in.params[offsetof(ptxfmha::DecodeKernelParams, v_ptr)] = v_ptr;
    in.params[offsetof(ptxfmha::DecodeKernelParams, block_table_ptr)] = 0;
    in.params[offsetof(ptxfmha::DecodeKernelParams, kv_batch_stride_bytes)] = batch_b;
    in.params[offsetof(ptxfmha::DecodeKernelParams, kv_seq_stride_bytes)] = seq_b;
    in.params[offsetof(ptxfmha::DecodeKernelParams, kv_head_stride_bytes)] = head_b;
    in.run(st, static_cast<std::size_t>(s0), static_cast<std::size_t>(s1) + 1);
    const Val chunk = in.r["%t1"], h = in.r["%ca_h"];
    if (!chunk.known || !h.known || chunk.v % 16 != 0 || chunk.v >= 2 * D) {
      ok = false;
      if (first_bad.empty()) first_bad = who + ": no chunk or first row";
      continue;
    }
    in.run(st, static_cast<std::size_t>(s1) + 1, static_cast<std::size_t>(s2) + 1);
    const int col = static_cast<int>(chunk.v / 2);  // bf16 elements
    for (long long q = 0; q < 8; ++q) {  // CA_FULL: BLOCK_N / 8 periods
      Interp body = in;
      body.set("%ca_dd", 1024 * q);
      body.run(st, static_cast<std::size_t>(f0), static_cast<std::size_t>(f1));
      const long long per = static_cast<long long>(body.copies.size()) / 2;
      if (per * rows_per_step != 8 && ok) {
        ok = false;
        first_bad = who + ": " + std::to_string(per) + " rows a period";
      }
      for (long long m = 0; m < per; ++m)
        expect(body.copies, static_cast<std::size_t>(2 * m), h.v + rows_per_step * m + 8 * q, col, who + " full");
      for (long long a : body.copies) ++seen_full[a];
    }
    {  // CA_FULL's sources: a tile at key 64, its periods in turn on the running pointers
      Interp run = in;
      run.set("%key0", 64);
      run.run(st, static_cast<std::size_t>(fs), static_cast<std::size_t>(f0));
      for (long long q = 0; q < 8; ++q) {
        run.set("%ca_dd", 1024 * q);
        const std::size_t before = run.sources.size();
        run.run(st, static_cast<std::size_t>(f0), static_cast<std::size_t>(f1));
        const std::vector<long long> got(run.sources.begin() + static_cast<long>(before), run.sources.end());
        if (static_cast<long long>(got.size()) * rows_per_step != 16 && src_ok) {
          src_ok = false;
          first_bad_src = who + " full: " + std::to_string(got.size()) + " sources a period";
        }
        for (long long m = 0; 2 * m + 1 < static_cast<long long>(got.size()); ++m)
          expect_src(got, static_cast<std::size_t>(2 * m), 64 + h.v + rows_per_step * m + 8 * q, chunk.v,
                     who + " full");
      }
    }
    for (long long row = h.v; row < 64; row += rows_per_step) {  // CA_ROW
      Interp body = in;
      body.set("%ca_r", row);
      body.set("%dst", 0);
      body.set("%key0", 0);
      body.set("%k_last", 1000);
      body.run(st, static_cast<std::size_t>(b0), static_cast<std::size_t>(b1));
      expect(body.copies, 0, row, col, who + " tail");
      expect_src(body.sources, 0, row, chunk.v, who + " tail");
      if (body.copies.size() != 2 && ok) {
        ok = false;
        first_bad = who + " tail: " + std::to_string(body.copies.size()) + " copies a row";
      }
      for (long long a : body.copies) ++seen_tail[a];
    }
  }
  t.truth(name + ": every copy where TMA's swizzle (and CUTLASS's SW128 layout) puts its row and chunk: " + first_bad, ok);
  t.truth(name + ": every copy from its row and chunk of the sequence's KV head in the cache: " + first_bad_src, src_ok);
  for (const auto* seen : {&seen_full, &seen_tail}) {
    bool once = static_cast<long long>(seen->size()) == 2 * 64 * D / 8;
    for (const auto& kv : *seen) once = once && kv.second == 1;
    t.truth(name + (seen == &seen_full ? ": full tiles" : ": the last tile") + ", each 16-byte chunk of the K and V tiles copied once (" +
                std::to_string(seen->size()) + " of " + std::to_string(2 * 64 * D / 8) + ")",
            once);
  }
}

// The plain bf16 rows with the cp.async producer (config.ptxh CPASYNC: one KV head, no warpgroup,
// no features, no L2 hint), sm90a (the sm100a twins assemble the same body).
std::vector<const ptxfmha::KernelInfo*> cpasync_rows() {
  std::vector<const ptxfmha::KernelInfo*> v;
  for (const ptxfmha::KernelInfo* r : ptxfmha::all_kernels()) {
    if (r->kind != ptxfmha::KernelKind::Decode && r->kind != ptxfmha::KernelKind::DecodeVariant) continue;
    const ptxfmha::DecodeRowFacts* f = ptxfmha::decode_row_facts(r);
    if (f == nullptr || f->combine || r->arch != std::string("sm90a")) continue;
    if (f->kv_bytes == 2 && f->heads == 1 && f->wg == 0 && f->features == 0 && f->l2_hint == 0 &&
        f->handout == 0)  // the _ho rows: TMA only
      v.push_back(r);
  }
  return v;
}

// The full barrier's count on the cp.async path against the producer's arrivals per tile: each
// of the warp's 32 lanes arrives once, with cp.async.mbarrier.arrive.noinc, as the tile's last
// step (the next statement leaves for the next tile: no lane-0 arrival besides), and BARRIER_INIT
// gives full[s] that count when %p_ca holds. (s29's inc form, each lane raising the pending count
// of a barrier of 1 arrival before lane 0's arrival, ran correctly but synccheck reported
// "Barrier overflow" on every lane: H100, 2026-12-06, s30.)
// (parse_statements collapses a statement's white space and drops its ';'.)
void check_cpasync_arrivals(const std::string& name, const std::vector<Stmt>& st, Tally& t) {
  int arrives = 0, noinc = 0;
  bool last_of_tile = false, init_with_it = false;
  long long ca_count = -1;
  std::string count_reg;
  for (std::size_t i = 0; i < st.size(); ++i) {
    const std::string& x = st[i].text;
    if (x.rfind("cp.async.mbarrier.arrive", 0) == 0) {
      ++arrives;
      if (x.find(".noinc.") != std::string::npos) ++noinc;
      last_of_tile = i + 1 < st.size() && st[i + 1].text == "bra PRODUCER_NEXT_TILE";
    }
    // selp.u32 %reg, <cp.async count>, <TMA count>, %p_ca
    if (x.rfind("selp.u32 ", 0) == 0 && x.size() > 7 && x.compare(x.size() - 7, 7, ", %p_ca") == 0) {
      const std::size_t c1 = x.find(','), c2 = x.find(',', c1 + 1);
      count_reg = sm100_ptx::trim(x.substr(9, c1 - 9));
      ca_count = std::atoll(x.substr(c1 + 1, c2 - c1 - 1).c_str());
    }
  }
  for (const Stmt& s : st)
    if (!count_reg.empty() && s.text == "mbarrier.init.shared::cta.b64 [%t1], " + count_reg) init_with_it = true;
  t.truth(name + ": one cp.async arrival on full[s] per lane, the noinc form", arrives == 1 && noinc == 1);
  t.truth(name + ": the arrival ends the tile's copies", last_of_tile);
  t.truth(name + ": full[s] counts the producer warp's 32 lanes on the cp.async path", ca_count == 32);
  t.truth(name + ": BARRIER_INIT gives full[s] that count", init_with_it);
}

void check_cpasync_row(const ptxfmha::KernelInfo* r, const std::vector<Stmt>& st, Tally& t) {
  if (r->head_dim == 64) check_cpasync<64>(r->name, st, t);
  if (r->head_dim == 128) check_cpasync<128>(r->name, st, t);
  if (r->head_dim == 256) check_cpasync<256>(r->name, st, t);
  check_cpasync_arrivals(r->name, st, t);
}

}  // namespace

TEST_CASE("sm90 decode cutlass cross-check: the cp.async producer's copies land where TMA's swizzle puts them") {
  Tally t;
  int rows = 0;
  for (const ptxfmha::KernelInfo* r : cpasync_rows()) {
    CAPTURE(r->name);
    check_cpasync_row(r, statements_of(r), t);
    ++rows;
  }
  CHECK(rows == 8);  // d64, d64_s3, d64_cl, d128, d128_s6, d128_cl, d256, d256_cl
  for (const std::string& b : t.bad) CHECK_MESSAGE(false, b);
  MESSAGE("sm90 decode cp.async producer: " << rows << " rows, " << t.compared << " checks");
}

TEST_CASE("sm90 decode cutlass cross-check: a cp.async producer without its swizzle, row stride, column block or period is caught") {
  struct CaMutation {
    const char* what;
    int min_d;  // the rows it changes anything in
    const char* from;
    const char* to;
  };
  const CaMutation muts[] = {
      {"the swizzle dropped (chunk j at 16 j)", 64, "xor.b32 %t1, %t1, %ca_j", "mov.b32 %t1, %ca_j"},
      {"rows 256 bytes apart (unswizzled whole rows)", 64, ", 128, %ca_cb", ", 256, %ca_cb"},
      {"the lane's column block ignored", 128, "mul.lo.u32 %ca_cb, %ca_cb, ", "mul.lo.u32 %ca_cb, %ca_cb, 0 * "},
      {"full tiles: a period of 512 bytes", 64, "add.u32 %ca_dd, %ca_dd, 1024", "add.u32 %ca_dd, %ca_dd, 512"},
      {"full tiles: V's copies 16 bytes off", 64, "cp.async.cg.shared.global [%t2 + ", "cp.async.cg.shared.global [%t2 + 16 + "},
      {"the inc form of the arrival (s29's)", 64, "cp.async.mbarrier.arrive.noinc.", "cp.async.mbarrier.arrive."},
      {"full[s] of 1 arrival on the cp.async path", 64, ", 32, 1, %p_ca", ", 1, 1, %p_ca"},
      {"full[s] initialised with the TMA count", 64, "[%t1], %t2", "[%t1], 1"},
      // `to` starting with '+': a statement inserted after the first that holds `from`
      {"a row step of CA_RPI + 1 rows", 64, "mul.lo.u64 %ca_step, %ca_rs, ", "mul.lo.u64 %ca_step, %ca_rs, 1 + "},
      {"the KV head's stride ignored", 64, "mul.wide.u32 %w1, %kvh, %t0", "mul.wide.u32 %w1, %kvh, 0"},
      {"V's rows from K's base", 64, "mad.lo.u64 %ca_vs, %w0, %ca_rs, %ca_vb", "mad.lo.u64 %ca_vs, %w0, %ca_rs, %ca_kb"},
      {"a lane-0 arrival after the lanes' (s29's)", 64, "cp.async.mbarrier.arrive",
       "+@%p_lane0 mbarrier.arrive.shared::cta.b64 _, [%bar_f]"},
  };
  int caught = 0, tried = 0;
  for (const ptxfmha::KernelInfo* r : cpasync_rows()) {
    const std::vector<Stmt> real = statements_of(r);
    for (const CaMutation& m : muts) {
      if (r->head_dim < m.min_d) continue;
      std::vector<Stmt> st = real;
      const std::string row = r->name, what = m.what;
      CAPTURE(row);
      CAPTURE(what);
      if (m.to[0] == '+') {
        const auto at = std::find_if(st.begin(), st.end(),
                                     [&](const Stmt& s) { return s.text.find(m.from) != std::string::npos; });
        REQUIRE(at != st.end());
        Stmt extra;
        extra.text = m.to + 1;
        st.insert(at + 1, extra);
      } else {
        CHECK(replace_text(st, m.from, m.to));
      }
      Tally t;
      check_cpasync_row(r, st, t);
      ++tried;
      if (!t.bad.empty()) ++caught;
      CHECK_MESSAGE(!t.bad.empty(), "not caught");
    }
  }
  CHECK(tried == 8 + 8 + 5 + 8 + 8 + 7 * 8);  // the d64 rows have one column block
  MESSAGE("sm90 decode cp.async producer: " << caught << " of " << tried << " mutations caught");
}

#else
TEST_CASE("sm90 decode cutlass cross-check: the cp.async producer's copies land where TMA's swizzle puts them" *
          doctest::skip(true)) {}
TEST_CASE("sm90 decode cutlass cross-check: a cp.async producer without its swizzle, row stride, column block or period is caught" *
          doctest::skip(true)) {}
#endif
