// CPU tests of the backward kernels' build outputs and host ties (no device needed):
//   - ptx/include/bwd_params.ptxh names every BwdKernelParams field at its offsetof();
//   - per head dim, a preprocess, main and postprocess row exist for sm90a, take the
//     BwdKernelParams block, agree on block_m, and find_kernel returns them; the main rows'
//     KERNEL_STAGES and the layout facts the host relies on (threads, tiles);
//   - SASS contracts of the backward kernels (suite "sass"): the main kernels run their GEMMs
//     as HGMMA, add dQ with the bulk reduce (UBLKRED = cp.reduce.async.bulk .add.f32), load
//     with TMA (UTMALDG) and 1-D bulk copies (UBLKCP), use setmaxnreg (USETMAXREG); no kernel
//     touches local memory; register counts are printed;
//   - the dQ accumulator's fragment order (layout.ptxh): the mapping the consumers stage
//     with and its inverse cover every (row, column) of an m-block exactly once, for every
//     head dim (a model of the index arithmetic);
//   - fmha_bwd_post (post.ptxh): its work items, with the constants its stubs expand to, read
//     every accumulator float once and store it at its (row, column) (a model of the kernel's
//     index arithmetic); its SASS (suite "sass") stores dQ with 16-byte STG.E.128 only and
//     issues a pass's 8 LDG.E.128 before the first use.
// (tests/test_cpu_kernel_table.cpp and test_cpu_ptx_build.cpp tie every row, these included, to its
// KERNEL_* macros, .param block, .maxntid and clean ptxas report.)
#include <doctest/doctest.h>

#include <cstddef>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "bwd.h"
#include "bwd_abi.h"
#include "../ptx/manifest/sm90_bwd.h"
#include "gpu_util.h"
#include "ptx_util.h"

using namespace ptxfmha_test;
using ptxfmha::BwdKernelParams;
using ptxfmha::KernelInfo;
using ptxfmha::KernelKind;

TEST_CASE("bwd_params.ptxh names every BwdKernelParams field at its offsetof()") {
  const std::string path = source_dir() + "/ptx/include/bwd_params.ptxh";
  bool ok = false;
  std::string err;
  const auto macros = cpp_macros(path, &ok, &err);
  REQUIRE_MESSAGE(ok, err);
#define BWD_ABI_FIELD(def, member) \
  AbiField { def, offsetof(BwdKernelParams, member), sizeof(BwdKernelParams::member) }
  const std::vector<AbiField> fields = {
      BWD_ABI_FIELD("B_TMA_Q", tma_q),           BWD_ABI_FIELD("B_TMA_K", tma_k),
      BWD_ABI_FIELD("B_TMA_V", tma_v),           BWD_ABI_FIELD("B_TMA_DO", tma_do),
      BWD_ABI_FIELD("B_O_PTR", o_ptr),           BWD_ABI_FIELD("B_DO_PTR", do_ptr),
      BWD_ABI_FIELD("B_LSE_PTR", lse_ptr),       BWD_ABI_FIELD("B_DQ_PTR", dq_ptr),
      BWD_ABI_FIELD("B_DK_PTR", dk_ptr),         BWD_ABI_FIELD("B_DV_PTR", dv_ptr),
      BWD_ABI_FIELD("B_DQ_ACC_PTR", dq_acc_ptr), BWD_ABI_FIELD("B_NLSE_PTR", nlse_ptr),
      BWD_ABI_FIELD("B_DSUM_PTR", dsum_ptr),     BWD_ABI_FIELD("B_SEM_PTR", sem_ptr),
      BWD_ABI_FIELD("B_DEBUG_PTR", debug_ptr),   BWD_ABI_FIELD("B_O_STRIDE", o_stride),
      BWD_ABI_FIELD("B_DO_STRIDE", do_stride),   BWD_ABI_FIELD("B_DQ_STRIDE", dq_stride),
      BWD_ABI_FIELD("B_DK_STRIDE", dk_stride),   BWD_ABI_FIELD("B_DV_STRIDE", dv_stride),
      BWD_ABI_FIELD("B_SEQLEN_Q", seqlen_q),     BWD_ABI_FIELD("B_SEQLEN_K", seqlen_k),
      BWD_ABI_FIELD("B_HEADS_Q", heads_q),       BWD_ABI_FIELD("B_HEADS_KV", heads_kv),
      BWD_ABI_FIELD("B_GQA_RATIO", gqa_ratio),   BWD_ABI_FIELD("B_BATCH", batch),
      BWD_ABI_FIELD("B_CAUSAL", causal),         BWD_ABI_FIELD("B_NUM_M_BLOCKS", num_m_blocks),
      BWD_ABI_FIELD("B_SEQLEN_Q_PAD", seqlen_q_pad), BWD_ABI_FIELD("B_SCALE_LOG2", scale_log2),
      BWD_ABI_FIELD("B_SOFTMAX_SCALE", softmax_scale), BWD_ABI_FIELD("B_DETERMINISTIC", deterministic),
      BWD_ABI_FIELD("B_WINDOW_LEFT", window_left), BWD_ABI_FIELD("B_WINDOW_RIGHT", window_right),
      BWD_ABI_FIELD("B_SOFTCAP_IN", softcap_in), BWD_ABI_FIELD("B_SOFTCAP_OUT", softcap_out),
      BWD_ABI_FIELD("B_ALIBI_PTR", alibi_ptr), BWD_ABI_FIELD("B_SINK_PTR", sink_ptr),
      BWD_ABI_FIELD("B_DSINK_PTR", dsink_ptr),
      BWD_ABI_FIELD("B_CU_Q_PTR", cu_q_ptr), BWD_ABI_FIELD("B_CU_K_PTR", cu_k_ptr),
      BWD_ABI_FIELD("B_SEQUSED_PTR", seqused_ptr), BWD_ABI_FIELD("B_TOTAL_Q", total_q),
      BWD_ABI_FIELD("B_TOTAL_K", total_k), BWD_ABI_FIELD("B_MAX_SEQLEN_Q", max_seqlen_q),
      BWD_ABI_FIELD("B_MAX_SEQLEN_K", max_seqlen_k), BWD_ABI_FIELD("B_WS_TILES", ws_tiles),
      BWD_ABI_FIELD("B_WS_BLOCK_M", ws_block_m), BWD_ABI_FIELD("B_ROTATE", rotate),
  };
#undef BWD_ABI_FIELD
  check_param_header(macros, path, "B_", "BWD_PARAM_BYTES", fields, offsetof(BwdKernelParams, reserved),
                     sizeof(BwdKernelParams::reserved), sizeof(BwdKernelParams));
}

TEST_CASE("bwd kernel rows: pre, main and post per head dim, one ABI, one block_m") {
  const std::vector<int> dims = ptxfmha::supported_head_dims(90, KernelKind::Bwd);
  CHECK(dims == std::vector<int>({64, 128, 256}));
  for (int d : dims) {
    CAPTURE(d);
    const KernelInfo* pre = ptxfmha::find_kernel(90, KernelKind::BwdPre, d);
    const KernelInfo* main = ptxfmha::find_kernel(90, KernelKind::Bwd, d);
    const KernelInfo* post = ptxfmha::find_kernel(90, KernelKind::BwdPost, d);
    REQUIRE(pre != nullptr);
    REQUIRE(main != nullptr);
    REQUIRE(post != nullptr);
    CHECK(std::string(main->name) == "fmha_bwd_d" + std::to_string(d) + "_sm90a");
    CHECK(std::string(pre->name) == "fmha_bwd_pre_d" + std::to_string(d) + "_sm90a");
    CHECK(std::string(post->name) == "fmha_bwd_post_d" + std::to_string(d) + "_sm90a");
    for (const KernelInfo* r : {pre, main, post}) {
      CHECK(r->param_bytes == static_cast<int>(sizeof(BwdKernelParams)));
      CHECK(r->block_m == main->block_m);
      CHECK(r->block_n == main->block_n);
      CHECK(r->head_dim == d);
    }
    CHECK(pre->threads == 256);
    CHECK(post->threads == 256);
    CHECK(pre->smem_bytes == 0);
    CHECK(post->smem_bytes == 0);
    CHECK(main->threads == 384);
    CHECK(main->smem_bytes <= 227 * 1024);
    // Rows of the workspace are padded for the largest block_m (bwd.h).
    CHECK(ptxfmha::kBwdRowPad % main->block_m == 0);
    // The main kernel's stage count and its facts as the stub states them.
    const std::string path = source_dir() + "/ptx/sm90a/" + main->name + ".ptx";
    bool ok = false;
    std::string err;
    const auto macros = cpp_macros(path, &ok, &err);
    REQUIRE_MESSAGE(ok, err);
    const long long stages = macro_value(macros, "KERNEL_STAGES", path);
    CHECK((stages == 1 || stages == 2 || stages == 3));
    CHECK(ptxfmha::bwd_debug_bytes(*main) ==
          2LL * main->block_n * main->block_m * 2 + 1LL * main->block_m * d * 4);
  }
  // No other arch has backward rows (sm_100a backward is not part of this work).
  CHECK(ptxfmha::supported_head_dims(100, KernelKind::Bwd).empty());
}

TEST_CASE("bwd kernel rows: every main variant runs with its head dim's pre and post rows") {
  int variants = 0;
  for (const KernelInfo* r : ptxfmha::all_kernels()) {
    if (r->kind != KernelKind::Bwd) continue;
    const std::string name = r->name;
    CAPTURE(name);
    const KernelInfo* def = ptxfmha::find_kernel(r->sm, KernelKind::Bwd, r->head_dim);
    const KernelInfo* pre = ptxfmha::find_kernel(r->sm, KernelKind::BwdPre, r->head_dim);
    const KernelInfo* post = ptxfmha::find_kernel(r->sm, KernelKind::BwdPost, r->head_dim);
    REQUIRE(def != nullptr);
    REQUIRE(pre != nullptr);
    REQUIRE(post != nullptr);
    if (def != r) ++variants;
    // The pre and post kernels work on the m-blocks and the dQ fragment order of the default:
    // a variant must keep block_m (and with it the dQ split, layout.ptxh).
    CHECK(r->block_m == pre->block_m);
    CHECK(r->block_m == post->block_m);
    CHECK(SM90_BWD_DQ_N(r->head_dim, r->block_m) == SM90_BWD_DQ_N(def->head_dim, def->block_m));
    CHECK(SM90_BWD_DQ_ROWS_BY_WG(r->block_m) == SM90_BWD_DQ_ROWS_BY_WG(def->block_m));
    CHECK(r->threads == 384);
    CHECK(ptxfmha::find_bwd_main_row(name.c_str()) == r);
  }
  CHECK(variants == 4);  // fmha_bwd_d128_n64 (the 3-stage _s3 row was removed), the 3 _ext rows
  CHECK(ptxfmha::find_bwd_main_row("fmha_bwd_pre_d64_sm90a") == nullptr);
  CHECK(ptxfmha::find_bwd_main_row("no_such_kernel") == nullptr);
  // fmha_bwd_dsink: the one head-dim-0 post-phase row, never a head dim's post kernel.
  const KernelInfo* ds = ptxfmha::find_bwd_dsink_row(90);
  REQUIRE(ds != nullptr);
  CHECK(std::string(ds->name) == "fmha_bwd_dsink_sm90a");
  CHECK(ds->param_bytes == static_cast<int>(sizeof(BwdKernelParams)));
  CHECK(ds->threads == 256);
  for (int d : ptxfmha::supported_head_dims(90, KernelKind::Bwd)) CHECK(ptxfmha::find_kernel(90, KernelKind::BwdPost, d) != ds);
  CHECK(ptxfmha::find_bwd_dsink_row(100) == nullptr);
}

TEST_CASE("bwd SASS contracts: HGMMA, UBLKRED (bulk reduce-add of dQ), TMA loads, no local memory" *
          doctest::test_suite("sass")) {
  const std::string objdump = cuobjdump_path();
  REQUIRE(!objdump.empty());
  int seen = 0;
  for (const KernelInfo* r : ptxfmha::all_kernels()) {
    if (r->kind != KernelKind::Bwd && r->kind != KernelKind::BwdPre && r->kind != KernelKind::BwdPost) continue;
    ++seen;
    const std::string name = r->name;
    CAPTURE(name);
    const std::string cubin = cubin_file(r->arch, r->name);
    REQUIRE_MESSAGE(file_exists(cubin), "missing cubin " << cubin << " (run make)");
    int rc = 0;
    const std::string sass = run_command(shell_quote(objdump) + " -sass " + shell_quote(cubin) + " 2>&1", &rc);
    REQUIRE(rc == 0);
    const auto fns = parse_sass(sass);
    const SassFunction* fn = nullptr;
    for (const auto& f : fns)
      if (f.name == name) fn = &f;
    REQUIRE(fn != nullptr);
    auto count = [&](const char* op) {
      auto it = fn->opcodes.find(op);
      return it == fn->opcodes.end() ? 0LL : it->second;
    };
    CHECK_MESSAGE(count("LDL") == 0, name << ": local loads (spills)");
    CHECK_MESSAGE(count("STL") == 0, name << ": local stores (spills)");
    if (r->kind == KernelKind::Bwd) {
      CHECK_MESSAGE(count("HGMMA") > 0, name << ": no HGMMA (the GEMMs must run as wgmma)");
      CHECK_MESSAGE(count("UBLKRED") > 0, name << ": no UBLKRED (dQ is added with cp.reduce.async.bulk)");
      CHECK_MESSAGE(count("UTMALDG") > 0, name << ": no UTMALDG (Q, dO, K, V come by TMA)");
      CHECK_MESSAGE(count("UBLKCP") > 0, name << ": no UBLKCP (LSE and D rows come by 1-D bulk copies)");
      CHECK_MESSAGE(count("USETMAXREG") > 0, name << ": no USETMAXREG (registers moved to the consumers)");
    } else {
      CHECK_MESSAGE(count("HGMMA") == 0, name << ": the pre/post kernels do no matrix products");
    }
    long long total = 0;
    for (const auto& kv : fn->opcodes) total += kv.second;
    const std::string report = read_text_file(ptxas_report_path(r->arch, r->name));
    const PtxasReport pr = parse_ptxas_report(report);
    MESSAGE(name << ": " << total << " SASS instructions, HGMMA " << count("HGMMA") << ", UBLKRED "
                 << count("UBLKRED") << ", UTMALDG " << count("UTMALDG") << ", registers " << pr.registers
                 << " (entry cap; consumers setmaxnreg 240), spills " << pr.spill_stores);
  }
  CHECK(seen == 14);  // 3 x (pre, main, post) + the main variants fmha_bwd_d128_n64, d*_ext, + dsink
}

namespace {
// layout.ptxh's split of an m-block's dQ between the two consumer warpgroups.
struct DqSplit {
  int head_dim, block_m, dq_n;
  bool rows_by_wg;
};
const DqSplit kSplits[] = {{64, 128, 64, true}, {128, 64, 64, false}, {256, 64, 128, false}};
}  // namespace

TEST_CASE("bwd dQ accumulator fragment order: staged and read back covers each (row, col) once") {
  for (const DqSplit& s : kSplits) {
    CAPTURE(s.head_dim);
    // layout.ptxh's functions (which the kernels and the GPU tests use) agree with this table.
    CHECK(SM90_BWD_DQ_N(s.head_dim, s.block_m) == s.dq_n);
    CHECK(SM90_BWD_DQ_ROWS_BY_WG(s.block_m) == s.rows_by_wg);
    REQUIRE(2 * 64 * s.dq_n == s.block_m * s.head_dim);
    std::vector<int> hits(static_cast<std::size_t>(s.block_m) * s.head_dim, 0);
    std::set<long long> offsets;
    for (int wg = 0; wg < 2; ++wg)
      for (int t = 0; t < 128; ++t)         // thread of the warpgroup
        for (int v = 0; v < s.dq_n / 8; ++v)  // float4 v = registers 4v .. 4v+3
          for (int j = 0; j < 4; ++j) {
            // Consumer side: wgmma m64nN accumulator register 4v + j of thread t.
            const int row = 16 * (t / 32) + (t % 32) / 4 + (j >= 2 ? 8 : 0);
            const int col = 8 * v + 2 * (t % 4) + (j % 2);
            // Staging / accumulator offset (floats) of that register.
            const long long off = (long long)wg * 64 * s.dq_n + (long long)(v * 128 + t) * 4 + j;
            CHECK(offsets.insert(off).second);
            // Read back: decode the offset by layout.ptxh's rule.
            const long long g = off / 4;
            const int wg2 = static_cast<int>(g / (s.dq_n / 8 * 128));
            const int rem = static_cast<int>(g % (s.dq_n / 8 * 128));
            const int v2 = rem >> 7, t2 = rem & 127, lane = t2 & 31;
            int r2 = 16 * (t2 >> 5) + (lane >> 2) + ((off % 4) >= 2 ? 8 : 0);
            int c2 = 8 * v2 + 2 * (lane & 3) + int(off % 2);
            if (s.rows_by_wg) r2 += 64 * wg2;
            else c2 += s.dq_n * wg2;
            const int r1 = row + (s.rows_by_wg ? 64 * wg : 0);
            const int c1 = col + (s.rows_by_wg ? 0 : s.dq_n * wg);
            CHECK(r1 == r2);
            CHECK(c1 == c2);
            REQUIRE(r2 >= 0);
            REQUIRE(r2 < s.block_m);
            REQUIRE(c2 >= 0);
            REQUIRE(c2 < s.head_dim);
            ++hits[static_cast<std::size_t>(r2) * s.head_dim + c2];
          }
    for (int h : hits) CHECK(h == 1);
    CHECK(offsets.size() == static_cast<std::size_t>(s.block_m) * s.head_dim);
  }
  // Mutation: decoding head dim 64's accumulator as if its warpgroups split columns (as at
  // 128) puts warpgroup 1's rows 64.. at columns 64.. : outside the tile, so the check above
  // would catch a decode with the wrong split.
  const DqSplit& s64 = kSplits[0];
  bool caught = false;
  for (int t = 0; t < 128 && !caught; ++t) {
    const int col_wrong = 8 * 0 + 2 * (t % 4) + s64.dq_n * 1;  // warpgroup 1, float4 0
    caught = col_wrong >= s64.head_dim;
  }
  CHECK(caught);
}

// ---- fmha_bwd_post (ptx/body/sm90_bwd/post.ptxh): its work items and its SASS ----------------
namespace {
// The post rows of a head dim (fmha_bwd_post_d*; fmha_bwd_dsink, the post-phase row without a
// head dim, is another kernel).
std::vector<const KernelInfo*> post_rows() {
  std::vector<const KernelInfo*> out;
  for (const KernelInfo* r : ptxfmha::all_kernels())
    if (r->kind == KernelKind::BwdPost && r->head_dim > 0) out.push_back(r);
  return out;
}

// post.ptxh's constants of one stub, as its preprocessor expands them.
struct PostFacts {
  long long threads, segs, log2_segs, rp_step, row_pairs, passes, row_step, src_step, dq_vecs,
      log2_dq_vecs, log2_v_stride, wg_bytes;
};

// The (row, column) of the m-block held by each float of the dQ accumulator tile, from the
// consumer side of layout.ptxh (wgmma m64nN accumulator register 4v + j of warpgroup thread
// t of part wg); -1 where no register lands.
std::vector<std::pair<int, int>> accumulator_cells(const DqSplit& s) {
  std::vector<std::pair<int, int>> cell(static_cast<std::size_t>(s.block_m) * s.head_dim, {-1, -1});
  for (int wg = 0; wg < 2; ++wg)
    for (int t = 0; t < 128; ++t)
      for (int v = 0; v < s.dq_n / 8; ++v)
        for (int j = 0; j < 4; ++j) {
          const int row = 16 * (t / 32) + (t % 32) / 4 + (j >= 2 ? 8 : 0) + (s.rows_by_wg ? 64 * wg : 0);
          const int col = 8 * v + 2 * (t % 4) + (j % 2) + (s.rows_by_wg ? 0 : s.dq_n * wg);
          cell[static_cast<std::size_t>(wg) * 64 * s.dq_n + (v * 128 + t) * 4 + j] = {row, col};
        }
  return cell;
}

// Runs the post kernel's index arithmetic (POST_SETUP, then CONVERT_DQ's passes of two items,
// POST_STORE_ITEM's word order) for every thread: how many floats were read from a cell other
// than the one they are written to, read twice or out of the tile, plus the (row, column)s not
// written exactly once.
int post_item_errors(const DqSplit& s, const PostFacts& f) {
  const auto cell = accumulator_cells(s);
  std::vector<int> written(cell.size(), 0);
  std::vector<int> read(cell.size(), 0);
  int errors = 0;
  for (long long thr = 0; thr < f.threads; ++thr) {
    const long long seg = thr & (f.segs - 1), rp = thr >> f.log2_segs;
    const long long wg = (seg >> f.log2_dq_vecs) + (rp >> 5), v = seg & (f.dq_vecs - 1);
    const long long src0 = wg * f.wg_bytes + (v << f.log2_v_stride) + (rp & 31) * 64;
    const long long row0 = 16 * (rp >> 3) + (rp & 7);
    for (long long k = 0; k < f.passes; ++k)
      for (long long item = 0; item < 2; ++item) {
        const long long src = src0 + (2 * k + item) * f.src_step, row = row0 + (2 * k + item) * f.row_step;
        for (int q = 0; q < 4; ++q)      // ld.global.nc.v4.f32 [src + 16 q]: thread 4g + q
          for (int e = 0; e < 4; ++e) {  // word q of row r: e 0, 1; of row r + 8: e 2, 3
            const long long fl = src / 4 + 4 * q + e;
            const int r = static_cast<int>(row + (e >= 2 ? 8 : 0));
            const int c = static_cast<int>(8 * seg + 2 * q + (e & 1));
            if (src % 64 != 0 || fl < 0 || fl >= static_cast<long long>(cell.size()) || r >= s.block_m ||
                c >= s.head_dim) {
              ++errors;
              continue;
            }
            if (cell[static_cast<std::size_t>(fl)] != std::make_pair(r, c)) ++errors;
            if (read[static_cast<std::size_t>(fl)]++ != 0) ++errors;
            ++written[static_cast<std::size_t>(r) * s.head_dim + c];
          }
      }
  }
  for (int w : written)
    if (w != 1) ++errors;
  return errors;
}
}  // namespace

TEST_CASE("bwd post kernel: its items read each accumulator float once and write it to its (row, col)") {
  const auto rows = post_rows();
  REQUIRE(rows.size() == 3);
  for (const KernelInfo* r : rows) {
    const std::string name = r->name;
    CAPTURE(name);
    const DqSplit* s = nullptr;
    for (const DqSplit& x : kSplits)
      if (x.head_dim == r->head_dim) s = &x;
    REQUIRE(s != nullptr);
    CHECK(s->block_m == r->block_m);
    const std::string path = source_dir() + "/ptx/" + r->arch + "/" + name + ".ptx";
    bool ok = false;
    std::string err;
    const auto macros = cpp_macros(path, &ok, &err);
    REQUIRE_MESSAGE(ok, err);
    auto val = [&](const char* n) { return macro_value(macros, n, path); };
    const PostFacts f{val("POST_THREADS"),  val("POST_SEGS"),     val("LOG2_POST_SEGS"), val("POST_RP_STEP"),
                      val("POST_ROW_PAIRS"), val("POST_PASSES"),  val("POST_ROW_STEP"),  val("POST_SRC_STEP"),
                      val("DQ_VECS"),        val("LOG2_DQ_VECS"), val("LOG2_V_STRIDE"),  val("DQ_WG_BYTES")};
    CHECK(f.threads == r->threads);
    CHECK((1LL << f.log2_segs) == f.segs);
    CHECK((1LL << f.log2_dq_vecs) == f.dq_vecs);
    CHECK(f.segs * 8 == r->head_dim);
    CHECK(f.passes >= 1);
    CHECK(f.passes * 2 * f.rp_step == f.row_pairs);  // the passes cover the m-block's row pairs
    CHECK(post_item_errors(*s, f) == 0);
    // Mutation: a source step that ignores the warpgroup parts (64 bytes a row pair, right
    // only while the row pairs stay in one part) reads the wrong floats at head dim 64.
    if (s->rows_by_wg) {
      PostFacts bad = f;
      bad.src_step = f.rp_step * 64;
      CHECK(post_item_errors(*s, bad) > 0);
    }
  }
}

namespace {
// One SASS instruction of a function, in order: its address, its opcode with modifiers
// ("STG.E.128") and, for a BRA, its target (else -1).
struct SassOp {
  long long addr;
  std::string op;
  long long target;
};
std::vector<SassOp> sass_instructions(const std::string& sass, const std::string& fn) {
  static const std::regex op_re(R"(^(?:@!?U?P[0-9T]+\s+)?([A-Z][A-Z0-9_.]*)\s*(.*)$)");
  std::vector<SassOp> out;
  for (const SassIns& i : function_instructions(sass, fn)) {  // ptx_util.h
    std::smatch m;
    if (!std::regex_search(i.text, m, op_re)) continue;
    long long target = -1;
    if (m[1].str() == "BRA") {
      const std::string a = m[2].str();
      const std::size_t x = a.find("0x");
      if (x != std::string::npos) target = std::stoll(a.substr(x + 2), nullptr, 16);
    }
    out.push_back({i.addr, m[1].str(), target});
  }
  return out;
}

// What breaks the post kernel's SASS contract in `ins` (empty: nothing):
//   every dQ store is a 16-byte STG.E.128 (none narrower);
//   a pass (the body of the backward branch, or the whole kernel without one) issues >= 8
//   LDG.E.128 before its first FMUL (the first use of loaded data), and one STG.E.128 per
//   two LDG.E.128 (64 bytes read for 32 written);
//   no integer division (MUFU.RCP / I2F of its emulation).
std::vector<std::string> post_sass_problems(const std::vector<SassOp>& ins) {
  std::vector<std::string> p;
  if (ins.empty()) return {"no instructions"};
  auto starts = [](const std::string& s, const char* pre) { return s.rfind(pre, 0) == 0; };
  int stg128 = 0, stg_narrow = 0, div = 0;
  std::size_t lo = 0, hi = ins.size();
  for (std::size_t i = 0; i < ins.size(); ++i) {
    const std::string& op = ins[i].op;
    if (starts(op, "STG")) (op == "STG.E.128" ? stg128 : stg_narrow)++;
    if (starts(op, "MUFU") || starts(op, "I2F")) ++div;
    if (op == "BRA" && ins[i].target >= 0 && ins[i].target < ins[i].addr) {
      for (std::size_t j = 0; j < i; ++j)
        if (ins[j].addr == ins[i].target) lo = j;
      hi = i;
    }
  }
  if (stg128 == 0) p.push_back("no STG.E.128");
  if (stg_narrow != 0) p.push_back(std::to_string(stg_narrow) + " stores narrower than 16 bytes");
  if (div != 0) p.push_back(std::to_string(div) + " MUFU/I2F (integer division)");
  int loads = 0, stores = 0, loads_before_use = -1;
  for (std::size_t i = lo; i < hi; ++i) {
    if (starts(ins[i].op, "LDG.E.128")) ++loads;
    if (starts(ins[i].op, "STG")) ++stores;
    if (starts(ins[i].op, "FMUL") && loads_before_use < 0) loads_before_use = loads;
  }
  if (loads_before_use < 8)
    p.push_back("a pass issues " + std::to_string(loads_before_use) + " LDG.E.128 before its first FMUL (want >= 8)");
  if (loads != 2 * stores)
    p.push_back("a pass has " + std::to_string(loads) + " LDG.E.128 for " + std::to_string(stores) + " STG");
  return p;
}
}  // namespace

TEST_CASE("SASS: sm90a bwd post kernels store dQ with STG.E.128 and issue a pass's 8 loads before the first use" *
          doctest::test_suite("sass")) {
  // The checker itself on a listing shaped like the previous kernel (one float4 load, its
  // scale, two 4-byte stores, again): it must object.
  const std::string old_shape =
      "        Function : old\n"
      "        /*0000*/                   I2F.U32.RP R8, 0x10 ;\n"
      "        /*0010*/                   LDG.E.128 R4, desc[UR4][R2.64] ;\n"
      "        /*0020*/                   FMUL R4, R4, UR5 ;\n"
      "        /*0030*/               @P0 STG.E desc[UR4][R8.64], R4 ;\n"
      "        /*0040*/               @P1 STG.E desc[UR4][R10.64], R5 ;\n"
      "        /*0050*/                   LDG.E.128 R4, desc[UR4][R2.64+0x1000] ;\n"
      "        /*0060*/                   FMUL R4, R4, UR5 ;\n"
      "        /*0070*/               @P0 STG.E desc[UR4][R8.64+0x10], R4 ;\n"
      "        /*0080*/               @P1 STG.E desc[UR4][R10.64+0x10], R5 ;\n"
      "        /*0090*/                   EXIT ;\n";
  CHECK(post_sass_problems(sass_instructions(old_shape, "old")).size() == 5);

  const std::string objdump = cuobjdump_path();
  REQUIRE(!objdump.empty());
  const auto rows = post_rows();
  REQUIRE(rows.size() == 3);
  for (const KernelInfo* r : rows) {
    const std::string name = r->name;
    CAPTURE(name);
    const auto ins = sass_instructions(cubin_sass(objdump, r->arch, name), name);
    REQUIRE(!ins.empty());
    for (const std::string& problem : post_sass_problems(ins)) FAIL_CHECK(name << ": " << problem);
    int n = 0, ldg = 0, stg = 0;
    for (const SassOp& i : ins) {
      n += i.op != "NOP";
      ldg += i.op.rfind("LDG.E.128", 0) == 0;
      stg += i.op == "STG.E.128";
    }
    MESSAGE(name << ": " << n << " SASS instructions (without NOP), " << ldg << " LDG.E.128, " << stg << " STG.E.128");
  }
}
