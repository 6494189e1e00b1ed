// CPU tests: the host kernel table agrees with the kernels' .ptx sources.
//   - every table row has a ptx/<arch>/<name>.ptx and every .ptx has a row;
//   - the KERNEL_* macros of each .ptx (read with `cpp -dM`) equal the row's fields;
//   - the preprocessed entry (what ptxas assembled) has one `.param .align 64 .b8 NAME[N]`
//     of the row's size and a `.maxntid` equal to the row's threads;
//   - every row's shared memory equals its family's map written out here independently
//     (the rows take theirs from the layout headers the PTX uses);
//   - ptx/include/fwd_params.ptxh names every field of FwdKernelParams at its offsetof().
// The rows and the KERNEL_* facts both come from the kernel manifests (ptx/manifest/): these
// tests check the two expansions (C++ rows, preprocessed PTX) agree and the PTX's own view
// (.param, .maxntid) matches.
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdlib>
#include <set>
#include <string>

#include "gpu_util.h"
#include "attn.h"
#include "attn_kernel_abi.h"
#include "fwd.h"
#include "kernel_abi.h"
#include "ptx_util.h"
#include "shapes.h"

using namespace ptxfmha_test;
using ptxfmha::FwdKernelParams;
using ptxfmha::KernelInfo;
using ptxfmha::KernelKind;

TEST_CASE("kernel table: rows are unique and well formed") {
  const auto rows = ptxfmha::all_kernels();
  REQUIRE(!rows.empty());
  std::set<std::string> names;
  for (const KernelInfo* r : rows) {
    const std::string name = r->name, arch = r->arch;
    CAPTURE(name);
    CHECK_MESSAGE(names.insert(name).second, "duplicate kernel name " << name);
    CHECK_MESSAGE(sm_of_arch(arch) != 0, name << ": unknown arch " << arch);
    CHECK_MESSAGE(r->sm == sm_of_arch(arch), name << ": sm " << r->sm << " does not match arch " << arch);
    CHECK(r->threads > 0);
    CHECK(r->threads % 32 == 0);
    CHECK(r->smem_bytes >= 0);
    CHECK(r->param_bytes > 0);
    if (r->kind == KernelKind::Fwd) {
      CHECK(r->head_dim > 0);
      CHECK(r->block_m > 0);
      CHECK(r->block_n > 0);
      // Plain forward rows take FwdKernelParams; feature rows (features != 0) AttnKernelParams.
      const std::size_t want = r->features != 0 ? sizeof(ptxfmha::AttnKernelParams) : sizeof(FwdKernelParams);
      CHECK_MESSAGE(r->param_bytes == static_cast<int>(want),
                    name << ": a forward row with features " << r->features << " takes a " << want << "-byte block");
      // The kernel name carries its head dim and arch: fmha_fwd_d<D>[_variant]_<arch>.
      const std::string head = "fmha_fwd_d" + std::to_string(r->head_dim) + "_";
      const std::string tail = std::string("_") + r->arch;
      CHECK_MESSAGE(name.rfind(head, 0) == 0, name << " should start with " << head);
      CHECK_MESSAGE((name.size() > tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0),
                    name << " should end with " << tail);
    }
  }
  // Every forward head dim of an arch is reachable: find_kernel() returns a row of that arch.
  for (const KernelInfo* r : rows) {
    if (r->kind != KernelKind::Fwd) continue;
    const KernelInfo* picked = ptxfmha::find_kernel(r->sm, KernelKind::Fwd, r->head_dim);
    REQUIRE(picked != nullptr);
    CHECK(std::string(picked->arch) == r->arch);
    CHECK(picked->head_dim == r->head_dim);
  }
}

TEST_CASE("kernel table: every row has a .ptx and every .ptx a row") {
  const auto srcs = ptx_sources();
  REQUIRE(!srcs.empty());
  std::set<std::string> src_names;
  for (const auto& s : srcs) {
    src_names.insert(s.arch + "/" + s.name);
    const KernelInfo* row = find_row(s.name);
    CHECK_MESSAGE(row != nullptr, s.path << " has no row in the kernel table (host/src/kernels_*.cpp)");
    if (row != nullptr)
      CHECK_MESSAGE(s.arch == row->arch, s.path << " lies in ptx/" << s.arch << "/ but its row says arch " << std::string(row->arch));
  }
  for (const KernelInfo* r : ptxfmha::all_kernels()) {
    const std::string key = std::string(r->arch) + "/" + r->name;
    CHECK_MESSAGE(src_names.count(key) == 1, "row " << std::string(r->name) << " has no ptx/" << key << ".ptx");
  }
}

TEST_CASE("kernel table: KERNEL_* macros of each .ptx equal its row") {
  const auto srcs = ptx_sources();
  REQUIRE(!srcs.empty());
  for (const auto& s : srcs) {
    CAPTURE(s.path);
    const KernelInfo* row = find_row(s.name);
    if (row == nullptr) continue;  // reported by the test above
    bool ok = false;
    std::string err;
    const auto macros = cpp_macros(s.path, &ok, &err);
    REQUIRE_MESSAGE(ok, err);
    auto name_it = macros.find("KERNEL_NAME");
    if (name_it != macros.end())
      CHECK_MESSAGE(name_it->second == s.name, "KERNEL_NAME " << name_it->second << " != file name " << s.name);
    CHECK(macro_value(macros, "KERNEL_THREADS", s.path) == row->threads);
    CHECK(macro_value(macros, "KERNEL_SMEM_BYTES", s.path) == row->smem_bytes);
    CHECK(macro_value(macros, "KERNEL_PARAM_BYTES", s.path) == row->param_bytes);
    CHECK(macro_value(macros, "KERNEL_HEAD_DIM", s.path) == row->head_dim);
    if (row->kind == KernelKind::Fwd) {
      CHECK(macro_value(macros, "KERNEL_BLOCK_M", s.path) == row->block_m);
      CHECK(macro_value(macros, "KERNEL_BLOCK_N", s.path) == row->block_n);
    } else {
      // Decode kernels may define them; when they do, they must agree too.
      if (macros.count("KERNEL_BLOCK_M")) CHECK(macro_value(macros, "KERNEL_BLOCK_M", s.path) == row->block_m);
      if (macros.count("KERNEL_BLOCK_N")) CHECK(macro_value(macros, "KERNEL_BLOCK_N", s.path) == row->block_n);
    }
  }
}

TEST_CASE("kernel table: the preprocessed entry's .param block and .maxntid equal its row") {
  const auto srcs = ptx_sources();
  REQUIRE(!srcs.empty());
  for (const auto& s : srcs) {
    CAPTURE(s.path);
    const KernelInfo* row = find_row(s.name);
    if (row == nullptr) continue;
    const std::string pre = preprocessed_path(s.arch, s.name);
    bool ok = false;
    const std::string text = read_text_file(pre, &ok);
    REQUIRE_MESSAGE(ok, "missing preprocessed PTX " << pre << " (run make)");
    const PtxEntry e = parse_entry(text, s.name);
    REQUIRE_MESSAGE(e.found, pre << " has no .entry " << s.name);
    CHECK_MESSAGE(e.entries == 1, pre << " has " << e.entries << " entries; one kernel per file");
    REQUIRE_MESSAGE(e.params.size() == 1, s.name << " takes " << e.params.size()
                                                 << " parameters; kernels take one by-value .param block");
    const PtxParam& p = e.params[0];
    CHECK_MESSAGE(p.type == "b8", s.name << ": .param type ." << p.type << ", expected .b8");
    CHECK_MESSAGE(p.align == 64, s.name << ": .param .align " << p.align << ", expected 64 (tensor maps)");
    CHECK_MESSAGE(p.array == row->param_bytes, s.name << ": .param " << p.name << "[" << p.array
                                                      << "] but the row says " << row->param_bytes << " bytes");
    if (row->kind == KernelKind::Fwd)
      CHECK(p.array == static_cast<long long>(row->features != 0 ? sizeof(ptxfmha::AttnKernelParams)
                                                                 : sizeof(FwdKernelParams)));
    REQUIRE_MESSAGE(e.has_maxntid, s.name << " has no .maxntid");
    CHECK(e.maxntid[0] * e.maxntid[1] * e.maxntid[2] == row->threads);
    if (e.has_reqntid) CHECK(e.reqntid[0] * e.reqntid[1] * e.reqntid[2] == row->threads);
  }
}

// The shared memory of every row, recomputed here from each family's documented map
// (independently of the layout headers in ptx/body/<family>/layout.ptxh, which both the PTX and
// the kernel table use), and the byte counts of the design notes.
namespace {
// sm90_fwd: 1024 alignment slack + Q (block_m rows; double-buffered up to head dim 128) +
// kv_stages x (K + V) (block_n rows each) + 256 bytes of mbarriers and tile slots (512 in the
// feature variants: 64-byte slots, v_land barriers, the producers' cursors), + at head dim
// 256 a 32 KiB O staging area (8 warps x 16 rows x 128 columns of bf16).
constexpr int sm90_fwd_smem(int d, int bm, int bn, int stages, bool features = false) {
  return 1024 + (d <= 128 ? 2 : 1) * bm * d * 2 + stages * 2 * bn * d * 2 + (features ? 512 : 256) +
         (d == 256 ? 8 * 16 * 128 * 2 : 0);
}
// sm100_fwd_serial: 1024 + Q (128 rows) + stages x (K + V) + P buffers (pss: 2 x 128 rows x
// block_n keys) + 256 barrier block.
constexpr int sm100_serial_smem(int d, int bn, int stages, bool p_in_smem) {
  return 1024 + 128 * d * 2 + stages * 2 * bn * d * 2 + (p_in_smem ? 2 * 128 * bn * 2 : 0) + 256;
}
// sm100_fwd (two-tile): 1024 + Q tiles (128 rows each) + ring slots (one K or V tile of block_n
// rows each) + a bf16 O staging tile (128 rows) + 1024 of row statistics + 512 barrier block.
constexpr int sm100_fwd_smem(int d, int q_tiles, int bn, int slots) {
  return 1024 + q_tiles * 128 * d * 2 + slots * bn * d * 2 + 128 * d * 2 + 1024 + 512;
}
// sm90_decode split kernel: 1024 + stages x (K + V tile of 64 keys, e bytes per element: 2 bf16,
// 1 e4m3) + 128 bytes of mbarriers.
// (h KV heads per CTA: h K tiles + h V tiles per stage.)
constexpr int sm90_decode_smem(int d, int stages, int e = 2, int h = 1) { return 1024 + stages * 2 * h * 64 * d * e + 128; }
// sm90_bwd main kernel: 1024 + K and V tiles (block_n x d bf16 each) + stages x (Q and dO
// tiles, block_m x d bf16 each) + dS^T tiles (block_n x block_m bf16: 2, and 2 P^T tiles
// more with the query split) + the fp32 dQ staging (block_m x d) + stages x (-LSE*log2e and
// D rows, block_m fp32 each) + 64 bytes of mbarriers. The pre and post kernels use none.
constexpr int sm90_bwd_smem(int d, int bm, int bn, int stages, bool query_split) {
  return 1024 + 2 * bn * d * 2 + stages * 2 * bm * d * 2 + (query_split ? 4 : 2) * bn * bm * 2 + bm * d * 4 +
         stages * 2 * bm * 4 + 64;
}

struct SmemCase {
  const char* name;
  int formula;  // the family's formula above, with the kernel's facts
  int bytes;    // the figure of the kernel's design note (layout.ptxh)
};
const SmemCase kSmemCases[] = {
    {"fmha_fwd_d64_sm90a", sm90_fwd_smem(64, 192, 128, 4), 181504},
    {"fmha_fwd_d128_sm90a", sm90_fwd_smem(128, 128, 128, 2), 197888},
    {"fmha_fwd_d256_sm90a", sm90_fwd_smem(256, 128, 64, 2), 230656},
    {"fmha_fwd_d64_ext_sm90a", sm90_fwd_smem(64, 192, 128, 4, true), 181760},
    {"fmha_fwd_d128_ext_sm90a", sm90_fwd_smem(128, 128, 128, 2, true), 198144},
    {"fmha_fwd_d256_ext_sm90a", sm90_fwd_smem(256, 128, 64, 2, true), 230912},
    {"fmha_fwd_d64_paged_sm90a", sm90_fwd_smem(64, 192, 128, 4, true), 181760},
    {"fmha_fwd_d128_paged_sm90a", sm90_fwd_smem(128, 128, 128, 2, true), 198144},
    {"fmha_fwd_d256_paged_sm90a", sm90_fwd_smem(256, 128, 64, 2, true), 230912},
    {"fmha_fwd_d64_sm100a", sm100_fwd_smem(64, 2, 128, 8), 182784},
    {"fmha_fwd_d128_sm100a", sm100_fwd_smem(128, 2, 128, 4), 231936},
    {"fmha_fwd_d256_sm100a", sm100_fwd_smem(256, 1, 64, 3), 231936},
    {"fmha_fwd_d64_ext_sm100a", sm100_fwd_smem(64, 2, 128, 8), 182784},
    {"fmha_fwd_d128_ext_sm100a", sm100_fwd_smem(128, 2, 128, 4), 231936},
    {"fmha_fwd_d256_ext_sm100a", sm100_fwd_smem(256, 1, 64, 3), 231936},
    {"fmha_fwd_d64_serial_sm100a", sm100_serial_smem(64, 128, 3, false), 115968},
    {"fmha_fwd_d128_serial_sm100a", sm100_serial_smem(128, 128, 2, false), 165120},
    {"fmha_fwd_d256_serial_sm100a", sm100_serial_smem(256, 64, 2, false), 197888},
    {"fmha_fwd_d64_serial_pss_sm100a", sm100_serial_smem(64, 128, 3, true), 181504},
    {"fmha_fwd_d128_serial_pss_sm100a", sm100_serial_smem(128, 128, 2, true), 230656},
    {"fmha_decode_d64_sm90a", sm90_decode_smem(64, 4), 66688},
    {"fmha_decode_d128_sm90a", sm90_decode_smem(128, 3), 99456},
    {"fmha_decode_d256_sm90a", sm90_decode_smem(256, 3), 197760},
    {"fmha_decode_d64_sm100a", sm90_decode_smem(64, 4), 66688},
    {"fmha_decode_d128_sm100a", sm90_decode_smem(128, 3), 99456},
    {"fmha_decode_d256_sm100a", sm90_decode_smem(256, 3), 197760},
    {"fmha_decode_d64_attn_sm90a", sm90_decode_smem(64, 4), 66688},
    {"fmha_decode_d128_attn_sm90a", sm90_decode_smem(128, 3), 99456},
    {"fmha_decode_d256_attn_sm90a", sm90_decode_smem(256, 3), 197760},
    {"fmha_decode_d64_e4m3_sm90a", sm90_decode_smem(64, 6, 1), 50304},
    {"fmha_decode_d128_e4m3_sm90a", sm90_decode_smem(128, 6, 1), 99456},
    {"fmha_decode_d256_e4m3_sm90a", sm90_decode_smem(256, 6, 1), 197760},
    {"fmha_decode_d64_e4m3_attn_sm90a", sm90_decode_smem(64, 8, 1), 66688},
    {"fmha_decode_d128_e4m3_attn_sm90a", sm90_decode_smem(128, 6, 1), 99456},
    {"fmha_decode_d256_e4m3_attn_sm90a", sm90_decode_smem(256, 6, 1), 197760},
    {"fmha_decode_d128_ef_sm90a", sm90_decode_smem(128, 3), 99456},
    {"fmha_decode_d128_s6_sm90a", sm90_decode_smem(128, 6), 197760},
    {"fmha_decode_d64_s3_sm90a", sm90_decode_smem(64, 3), 50304},
    {"fmha_decode_d128_e4m3_ef_sm90a", sm90_decode_smem(128, 6, 1), 99456},
    {"fmha_decode_d128_h2_sm90a", sm90_decode_smem(128, 3, 2, 2), 197760},
    {"fmha_decode_d64_h2_sm90a", sm90_decode_smem(64, 3, 2, 2), 99456},
    {"fmha_decode_d64_e4m3_h2_sm90a", sm90_decode_smem(64, 3, 1, 2), 50304},
    {"fmha_decode_d64_attn_sm100a", sm90_decode_smem(64, 4), 66688},
    {"fmha_decode_d128_attn_sm100a", sm90_decode_smem(128, 3), 99456},
    {"fmha_decode_d256_attn_sm100a", sm90_decode_smem(256, 3), 197760},
    {"fmha_decode_d64_e4m3_sm100a", sm90_decode_smem(64, 6, 1), 50304},
    {"fmha_decode_d128_e4m3_sm100a", sm90_decode_smem(128, 6, 1), 99456},
    {"fmha_decode_d256_e4m3_sm100a", sm90_decode_smem(256, 6, 1), 197760},
    {"fmha_decode_d64_e4m3_attn_sm100a", sm90_decode_smem(64, 8, 1), 66688},
    {"fmha_decode_d128_e4m3_attn_sm100a", sm90_decode_smem(128, 6, 1), 99456},
    {"fmha_decode_d256_e4m3_attn_sm100a", sm90_decode_smem(256, 6, 1), 197760},
    {"fmha_decode_d128_ef_sm100a", sm90_decode_smem(128, 3), 99456},
    {"fmha_decode_d128_s6_sm100a", sm90_decode_smem(128, 6), 197760},
    {"fmha_decode_d64_s3_sm100a", sm90_decode_smem(64, 3), 50304},
    {"fmha_decode_d128_e4m3_ef_sm100a", sm90_decode_smem(128, 6, 1), 99456},
    {"fmha_decode_d128_h2_sm100a", sm90_decode_smem(128, 3, 2, 2), 197760},
    {"fmha_decode_d64_h2_sm100a", sm90_decode_smem(64, 3, 2, 2), 99456},
    {"fmha_decode_d64_e4m3_h2_sm100a", sm90_decode_smem(64, 3, 1, 2), 50304},
    // the _ho rows: + 8 stages' slot words (64) + HO_FLUSH's {m, l} of 4 warps x 32 lanes (2048)
    {"fmha_decode_d64_ho_sm90a", sm90_decode_smem(64, 4) + 64 + 2048, 68800},
    {"fmha_decode_d128_ho_sm90a", sm90_decode_smem(128, 3) + 64 + 2048, 101568},
    {"fmha_decode_d256_ho_sm90a", sm90_decode_smem(256, 3) + 64 + 2048, 199872},
    {"fmha_decode_d64_ho_sm100a", sm90_decode_smem(64, 4) + 64 + 2048, 68800},
    {"fmha_decode_d128_ho_sm100a", sm90_decode_smem(128, 3) + 64 + 2048, 101568},
    {"fmha_decode_d256_ho_sm100a", sm90_decode_smem(256, 3) + 64 + 2048, 199872},
    {"fmha_decode_d64_cl_sm90a", sm90_decode_smem(64, 4), 66688},
    {"fmha_decode_d128_cl_sm90a", sm90_decode_smem(128, 3), 99456},
    {"fmha_decode_d64_wg_sm90a", sm90_decode_smem(64, 4), 66688},  // the warpgroup loop: same ring
    {"fmha_decode_d128_wg_sm90a", sm90_decode_smem(128, 3), 99456},
    {"fmha_decode_d64_wg_cl_sm90a", sm90_decode_smem(64, 4), 66688},
    {"fmha_decode_d128_wg_cl_sm90a", sm90_decode_smem(128, 3), 99456},
    // d256: the ring and the Q tile (64 rows x 256 x 2), the QK wgmmas' A operand
    {"fmha_decode_d256_wg_sm90a", sm90_decode_smem(256, 3) + 64 * 256 * 2, 230528},
    {"fmha_decode_d256_wg_cl_sm90a", sm90_decode_smem(256, 3) + 64 * 256 * 2, 230528},
    // the e4m3 warpgroup rows: e4m3 stages (d64 4, d128 3, d256 4) + two f16 copies of a V tile +
    // Q's two e4m3 tiles (64 rows x D bytes each)
    {"fmha_decode_d64_e4m3_wg_sm90a", sm90_decode_smem(64, 4, 1) + 2 * 64 * 64 * 2 + 2 * 4096, 58496},
    {"fmha_decode_d128_e4m3_wg_sm90a", sm90_decode_smem(128, 3, 1) + 2 * 64 * 128 * 2 + 2 * 8192, 99456},
    {"fmha_decode_d64_e4m3_wg_cl_sm90a", sm90_decode_smem(64, 4, 1) + 2 * 64 * 64 * 2 + 2 * 4096, 58496},
    {"fmha_decode_d128_e4m3_wg_cl_sm90a", sm90_decode_smem(128, 3, 1) + 2 * 64 * 128 * 2 + 2 * 8192, 99456},
    {"fmha_decode_d256_e4m3_wg_sm90a", sm90_decode_smem(256, 4, 1) + 2 * 64 * 256 * 2 + 2 * 16384, 230528},
    {"fmha_decode_d256_e4m3_wg_cl_sm90a", sm90_decode_smem(256, 4, 1) + 2 * 64 * 256 * 2 + 2 * 16384, 230528},
    {"fmha_decode_d256_e4m3_wgc_sm90a", sm90_decode_smem(256, 4, 1) + 2 * 64 * 256 * 2 + 2 * 16384, 230528},
    {"fmha_decode_d256_e4m3_wgc_cl_sm90a", sm90_decode_smem(256, 4, 1) + 2 * 64 * 256 * 2 + 2 * 16384, 230528},
    {"fmha_decode_d256_e4m3_wg2c_sm90a", sm90_decode_smem(256, 4, 1) + 2 * 64 * 256 * 2 + 2 * 16384, 230528},
    {"fmha_decode_d256_e4m3_wg2c_cl_sm90a", sm90_decode_smem(256, 4, 1) + 2 * 64 * 256 * 2 + 2 * 16384, 230528},
    {"fmha_decode_d256_cl_sm90a", sm90_decode_smem(256, 3), 197760},
    {"fmha_decode_d64_attn_cl_sm90a", sm90_decode_smem(64, 4), 66688},
    {"fmha_decode_d128_attn_cl_sm90a", sm90_decode_smem(128, 3), 99456},
    {"fmha_decode_d256_attn_cl_sm90a", sm90_decode_smem(256, 3), 197760},
    {"fmha_decode_d64_e4m3_cl_sm90a", sm90_decode_smem(64, 6, 1), 50304},
    {"fmha_decode_d128_e4m3_cl_sm90a", sm90_decode_smem(128, 6, 1), 99456},
    {"fmha_decode_d256_e4m3_cl_sm90a", sm90_decode_smem(256, 6, 1), 197760},
    {"fmha_decode_d64_cl_sm100a", sm90_decode_smem(64, 4), 66688},
    {"fmha_decode_d128_cl_sm100a", sm90_decode_smem(128, 3), 99456},
    {"fmha_decode_d256_cl_sm100a", sm90_decode_smem(256, 3), 197760},
    {"fmha_decode_d64_attn_cl_sm100a", sm90_decode_smem(64, 4), 66688},
    {"fmha_decode_d128_attn_cl_sm100a", sm90_decode_smem(128, 3), 99456},
    {"fmha_decode_d256_attn_cl_sm100a", sm90_decode_smem(256, 3), 197760},
    {"fmha_decode_d64_e4m3_cl_sm100a", sm90_decode_smem(64, 6, 1), 50304},
    {"fmha_decode_d128_e4m3_cl_sm100a", sm90_decode_smem(128, 6, 1), 99456},
    {"fmha_decode_d256_e4m3_cl_sm100a", sm90_decode_smem(256, 6, 1), 197760},
    {"fmha_decode_d64_e4m3_attn_cl_sm90a", sm90_decode_smem(64, 8, 1), 66688},
    {"fmha_decode_d128_e4m3_attn_cl_sm90a", sm90_decode_smem(128, 6, 1), 99456},
    {"fmha_decode_d256_e4m3_attn_cl_sm90a", sm90_decode_smem(256, 6, 1), 197760},
    {"fmha_decode_d64_e4m3_attn_cl_sm100a", sm90_decode_smem(64, 8, 1), 66688},
    {"fmha_decode_d128_e4m3_attn_cl_sm100a", sm90_decode_smem(128, 6, 1), 99456},
    {"fmha_decode_d256_e4m3_attn_cl_sm100a", sm90_decode_smem(256, 6, 1), 197760},
    {"fmha_decode_combine_d64_sink_sm90a", 0, 0},
    {"fmha_decode_combine_d128_sink_sm90a", 0, 0},
    {"fmha_decode_combine_d256_sink_sm90a", 0, 0},
    {"fmha_decode_combine_d64_sink_sm100a", 0, 0},
    {"fmha_decode_combine_d128_sink_sm100a", 0, 0},
    {"fmha_decode_combine_d256_sink_sm100a", 0, 0},
    {"fmha_decode_combine_d64_sm90a", 0, 0},
    {"fmha_decode_combine_d128_sm90a", 0, 0},
    {"fmha_decode_combine_d256_sm90a", 0, 0},
    {"fmha_decode_combine_d64_sm100a", 0, 0},
    {"fmha_decode_combine_d128_sm100a", 0, 0},
    {"fmha_decode_combine_d256_sm100a", 0, 0},
    {"fmha_bwd_d64_sm90a", sm90_bwd_smem(64, 128, 128, 2, false), 199744},
    {"fmha_bwd_d128_sm90a", sm90_bwd_smem(128, 64, 128, 2, false), 198720},
    {"fmha_bwd_d256_sm90a", sm90_bwd_smem(256, 64, 64, 1, true), 230976},
    {"fmha_bwd_d128_n64_sm90a", sm90_bwd_smem(128, 64, 64, 2, true), 165952},
    {"fmha_bwd_d64_ext_sm90a", sm90_bwd_smem(64, 128, 128, 2, false), 199744},
    {"fmha_bwd_d128_ext_sm90a", sm90_bwd_smem(128, 64, 128, 2, false), 198720},
    {"fmha_bwd_d256_ext_sm90a", sm90_bwd_smem(256, 64, 64, 1, true), 230976},
    {"fmha_bwd_dsink_sm90a", 0, 0},
    {"fmha_bwd_pre_d64_sm90a", 0, 0},
    {"fmha_bwd_pre_d128_sm90a", 0, 0},
    {"fmha_bwd_pre_d256_sm90a", 0, 0},
    {"fmha_bwd_post_d64_sm90a", 0, 0},
    {"fmha_bwd_post_d128_sm90a", 0, 0},
    {"fmha_bwd_post_d256_sm90a", 0, 0},
};
}  // namespace

TEST_CASE("kernel table: every row's shared memory equals its family's map, recomputed independently") {
  std::set<std::string> covered;
  for (const SmemCase& c : kSmemCases) {
    const std::string name = c.name;  // std::string: doctest prints a const char* as a pointer
    CAPTURE(name);
    CHECK(c.formula == c.bytes);
    const KernelInfo* row = find_row(c.name);
    REQUIRE_MESSAGE(row != nullptr, "no kernel-table row " << c.name);
    CHECK(row->smem_bytes == c.bytes);
    covered.insert(c.name);
  }
  // A new kernel needs its line here: its map, written twice, by two hands.
  for (const KernelInfo* r : ptxfmha::all_kernels())
    CHECK_MESSAGE(covered.count(r->name) == 1, "row " << std::string(r->name) << " has no shared-memory case in "
                                                      << "tests/test_cpu_kernel_table.cpp (kSmemCases)");
}

namespace {
// Resident CTAs per SM that the shared memory admits (228 KiB per SM on sm_90 and sm_100, 1 KiB
// reserved per CTA) and that the register file admits: 64 Ki registers, a warp's allocated in
// units of 256 (a thread's count rounded up to 8), and the warps the file holds rounded down to
// a multiple of 4 (one register file per SM sub-partition: the occupancy calculator's warp
// allocation granularity). Measured: the d64 _e4m3_wg row at 131 registers ran 2 CTAs of 160
// threads per SM (Nsight Compute, H200 2026-12-04: theoretical occupancy 15.6% = 10 warps), where
// 65536 / (136 x 160) alone says 3.
constexpr int kSmemPerSmBytes = 228 * 1024, kSmemReservedPerCtaBytes = 1024, kRegsPerSm = 65536;
int ctas_by_smem(int smem_bytes) { return kSmemPerSmBytes / (smem_bytes + kSmemReservedPerCtaBytes); }
int ctas_by_regs(int regs, int threads) {
  const int warp_regs = (regs + 7) / 8 * 8 * 32;
  const int warps = kRegsPerSm / warp_regs / 4 * 4;
  return warps / ((threads + 31) / 32);
}
}  // namespace

// The decode kernels stream K and V: the CTAs per SM (bytes in flight, consumer warps) are set by
// the ring's shared memory, so registers must never be the tighter limit. The bf16 d64 _s3 rows
// (3 stages, 50,304 B: 4 CTAs) hold only because of their manifest register cap (RG 96).
TEST_CASE("decode split rows: registers admit the CTAs their shared memory admits, no spills") {
  // The check fails where it should: ptxas's own 107 registers of the bf16 d64 kernel (the _s3
  // row without its cap) admit 3 CTAs against the 4 of its shared memory.
  CHECK(ctas_by_smem(50304) == 4);
  CHECK(ctas_by_regs(107, 160) == 3);
  CHECK(ctas_by_regs(96, 160) == 4);
  // and where the per-thread count alone would not: 131 registers (the first pipelined d64 e4m3
  // loop, 74,880 B, before its cap) admit 2 CTAs of 160 threads against the 3 of its shared
  // memory, 120 admit 3
  CHECK(ctas_by_smem(74880) == 3);
  CHECK(ctas_by_regs(131, 160) == 2);
  CHECK(ctas_by_regs(120, 160) == 3);
  int rows = 0;
  for (const KernelInfo* r : ptxfmha::all_kernels()) {
    if (r->kind != KernelKind::Decode && r->kind != KernelKind::DecodeVariant) continue;
    const std::string name = r->name;
    CAPTURE(name);
    bool ok = false;
    const std::string text = read_text_file(ptxas_report_path(r->arch, r->name), &ok);
    REQUIRE_MESSAGE(ok, "ptxas report of " << name << " is missing (`make cubins` writes it)");
    const PtxasReport rep = parse_ptxas_report(text);
    REQUIRE(rep.registers > 0);
    CHECK(rep.spill_stores == 0);
    CHECK(rep.spill_loads == 0);
    const int by_smem = ctas_by_smem(r->smem_bytes);
    CHECK(by_smem >= 1);
    CHECK_MESSAGE(ctas_by_regs(int(rep.registers), r->threads) >= by_smem,
                  name << ": " << rep.registers << " registers admit fewer CTAs per SM than its "
                       << r->smem_bytes << " B of shared memory (" << by_smem << ")");
    ++rows;
  }
  CHECK(rows >= 56);
}

// WG 4 (_e4m3_wg2c: 512 threads, registers moved by setmaxnreg, roles.ptxh) assembles only when
// its role table holds: the setmaxnreg budgets within the registers at entry (512 x 128), even
// STAGES (tile t's stage belongs to warpgroup t % 2), the converter warpgroup one thread per
// consumer thread. The guard is a preprocessor #error; each edit below, on a copy of ptx/, must
// trip it, and the unedited copy must not.
TEST_CASE("decode WG 4: the role table's guard fails the build when a budget, the stages or the converters break") {
  const std::string stub = "sm90a/fmha_decode_d256_e4m3_wg2c_sm90a.ptx";
  char tmpl[] = "/tmp/ptxfmha-wg4-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  int rc = 0;
  run_command("cp -r " + shell_quote(source_dir() + "/ptx") + " " + shell_quote(dir + "/ptx"), &rc);
  REQUIRE(rc == 0);
  // whether cpp fails on the stub with `want` in its output, after `sed` on `file` (none: "")
  auto preprocess = [&](const std::string& file, const std::string& sed, const std::string& want) {
    const std::string path = dir + "/ptx/" + file;
    if (!sed.empty()) {
      run_command("cp " + shell_quote(source_dir() + "/ptx/" + file) + " " + shell_quote(path), &rc);
      REQUIRE(rc == 0);
      run_command("sed -i " + shell_quote(sed) + " " + shell_quote(path), &rc);
      REQUIRE(rc == 0);
      run_command("cmp -s " + shell_quote(source_dir() + "/ptx/" + file) + " " + shell_quote(path), &rc);
      REQUIRE_MESSAGE(rc != 0, "the edit '" << sed << "' changed nothing in " << file);
    }
    const std::string out =
        run_command("cpp -x assembler-with-cpp -undef -nostdinc -I" + shell_quote(dir + "/ptx/include") + " " +
                        shell_quote(dir + "/ptx/" + stub) + " -o /dev/null 2>&1",
                    &rc);
    const bool tripped = rc != 0 && out.find(want) != std::string::npos;
    if (!sed.empty())  // put the file back for the next edit
      run_command("cp " + shell_quote(source_dir() + "/ptx/" + file) + " " + shell_quote(path), &rc);
    return tripped;
  };
  const std::string guard = "WG 4: a tile's stage and copy belong to warpgroup t % 2";
  CHECK_FALSE(preprocess("body/sm90_decode/roles.ptxh", "", "error"));
  const struct { const char* file; const char* sed; } edits[] = {
      // the consumers' budget over the entry's registers: 256 x 232 + 256 x 32 > 512 x 128
      {"body/sm90_decode/roles.ptxh", "s/^#define CONSUMER_REGS       224 /#define CONSUMER_REGS       232 /"},
      // the converters' budget over it
      {"body/sm90_decode/roles.ptxh", "s/^#define CONVERTER_REGS_WG   32 /#define CONVERTER_REGS_WG   40 /"},
      // odd stages: tile t + 2's stage no longer warpgroup t % 2's
      {"manifest/sm90_decode.h",
       "s/^#define ROW_fmha_decode_d256_e4m3_wg2c_sm90a (sm90a,   256,  4,/#define ROW_fmha_decode_d256_e4m3_wg2c_sm90a (sm90a,   256,  3,/"},
      // the converter warpgroup moved: its first warp right after the producer's
      {"body/sm90_decode/roles.ptxh",
       "s/^#define CONVERTER_WARP0     (PRODUCER_WARP + 1 + SPARE_WARPS)/#define CONVERTER_WARP0     (PRODUCER_WARP + 1)/"},
  };
  int tripped = 0;
  for (const auto& e : edits) {
    CAPTURE(e.sed);
    const bool t = preprocess(e.file, e.sed, guard);
    CHECK(t);
    tripped += t;
  }
  run_command("rm -rf " + shell_quote(dir), &rc);
  MESSAGE("decode WG 4 guard: " << tripped << " of " << sizeof edits / sizeof edits[0] << " edits trip it");
}

TEST_CASE("fwd_params.ptxh names every FwdKernelParams field at its offsetof()") {
  const std::string path = source_dir() + "/ptx/include/fwd_params.ptxh";
  bool ok = false;
  std::string err;
  const auto macros = cpp_macros(path, &ok, &err);
  REQUIRE_MESSAGE(ok, err);

#define PTXFMHA_FIELD(def, member) \
  AbiField { def, offsetof(FwdKernelParams, member), sizeof(FwdKernelParams::member) }
  const std::vector<AbiField> fields = {
      PTXFMHA_FIELD("P_TMA_Q", tma_q),
      PTXFMHA_FIELD("P_TMA_K", tma_k),
      PTXFMHA_FIELD("P_TMA_V", tma_v),
      PTXFMHA_FIELD("P_TMA_O", tma_o),
      PTXFMHA_FIELD("P_O_PTR", o_ptr),
      PTXFMHA_FIELD("P_LSE_PTR", lse_ptr),
      PTXFMHA_FIELD("P_O_BATCH_STRIDE", o_batch_stride),
      PTXFMHA_FIELD("P_O_SEQ_STRIDE", o_seq_stride),
      PTXFMHA_FIELD("P_O_HEAD_STRIDE", o_head_stride),
      PTXFMHA_FIELD("P_SEQLEN_Q", seqlen_q),
      PTXFMHA_FIELD("P_SEQLEN_K", seqlen_k),
      PTXFMHA_FIELD("P_HEADS_Q", heads_q),
      PTXFMHA_FIELD("P_GQA_RATIO", gqa_ratio),
      PTXFMHA_FIELD("P_CAUSAL", causal),
      PTXFMHA_FIELD("P_NUM_M_BLOCKS", num_m_blocks),
      PTXFMHA_FIELD("P_SCALE_LOG2", scale_log2),
      PTXFMHA_FIELD("P_BATCH", batch),
      PTXFMHA_FIELD("P_TOTAL_TILES", total_tiles),
      PTXFMHA_FIELD("P_HEAD_GROUP", head_group),
      PTXFMHA_FIELD("P_TILE_COUNTER", tile_counter),
  };
#undef PTXFMHA_FIELD
  check_param_header(macros, path, "P_", "FWD_PARAM_BYTES", fields, offsetof(FwdKernelParams, reserved),
                     sizeof(FwdKernelParams::reserved), sizeof(FwdKernelParams));
}

TEST_CASE("fwd_params.ptxh names every AttnKernelParams extension field at its offsetof() (PA_)") {
  using ptxfmha::AttnKernelParams;
  const std::string path = source_dir() + "/ptx/include/fwd_params.ptxh";
  bool ok = false;
  std::string err;
  const auto macros = cpp_macros(path, &ok, &err);
  REQUIRE_MESSAGE(ok, err);
#define PTXFMHA_FIELD(def, member) \
  AbiField { def, offsetof(AttnKernelParams, member), sizeof(AttnKernelParams::member) }
  const std::vector<AbiField> fields = {
      PTXFMHA_FIELD("PA_CU_SEQLENS_Q", cu_seqlens_q_ptr),
      PTXFMHA_FIELD("PA_CU_SEQLENS_K", cu_seqlens_k_ptr),
      PTXFMHA_FIELD("PA_SEQUSED_K", seqused_k_ptr),
      PTXFMHA_FIELD("PA_BLOCK_TABLE", block_table_ptr),
      PTXFMHA_FIELD("PA_SINK_LOGITS", sink_logits_ptr),
      PTXFMHA_FIELD("PA_ALIBI_SLOPES", alibi_slopes_ptr),
      PTXFMHA_FIELD("PA_FEATURES", features),
      PTXFMHA_FIELD("PA_TOTAL_Q", total_q),
      PTXFMHA_FIELD("PA_TOTAL_K", total_k),
      PTXFMHA_FIELD("PA_WINDOW_LEFT", window_left),
      PTXFMHA_FIELD("PA_WINDOW_RIGHT1", window_right1),
      PTXFMHA_FIELD("PA_SOFTCAP_PRE", softcap_pre),
      PTXFMHA_FIELD("PA_SOFTCAP_POST", softcap_post),
      PTXFMHA_FIELD("PA_PAGE_SHIFT", page_shift),
      PTXFMHA_FIELD("PA_MAX_BLOCKS_PER_SEQ", max_blocks_per_seq),
      PTXFMHA_FIELD("PA_NUM_PAGES", num_pages),
      PTXFMHA_FIELD("PA_LSE_HEAD_STRIDE", lse_head_stride),
      PTXFMHA_FIELD("PA_LSE_BATCH_STRIDE", lse_batch_stride),
      PTXFMHA_FIELD("PA_BOX_SHIFT", box_shift),
      PTXFMHA_FIELD("PA_ALIBI_MUL", alibi_mul),
      PTXFMHA_FIELD("PA_O_SEQBASE_STRIDE", o_seqbase_stride),
  };
#undef PTXFMHA_FIELD
  CHECK(fields.front().offset == sizeof(FwdKernelParams));  // the extension follows the plain block
  check_param_header(macros, path, "PA_", "ATTN_PARAM_BYTES", fields, offsetof(AttnKernelParams, reserved),
                     sizeof(AttnKernelParams::reserved), sizeof(AttnKernelParams));
  // The feature bits the kernels test (FEAT_*) are the host's AttnFeature bits.
  const std::pair<const char*, uint32_t> bits[] = {
      {"FEAT_VARLEN_Q", ptxfmha::kAttnVarlenQ}, {"FEAT_VARLEN_K", ptxfmha::kAttnVarlenK},
      {"FEAT_PAGED", ptxfmha::kAttnPagedKV},    {"FEAT_SEQUSED_K", ptxfmha::kAttnSequsedK},
      {"FEAT_WINDOW", ptxfmha::kAttnWindow},    {"FEAT_SOFTCAP", ptxfmha::kAttnSoftcap},
      {"FEAT_SINKS", ptxfmha::kAttnSinks},      {"FEAT_ALIBI", ptxfmha::kAttnAlibi}};
  for (const auto& b : bits) {
    CAPTURE(b.first);
    CHECK(macro_value(macros, b.first, path) == static_cast<long long>(b.second));
  }
}

TEST_CASE("kernel table: sm90a feature rows cover every feature; ptxfmha_attn's row choice") {
  // Every sm90a forward head dim has a plain row (ptxfmha_fwd's), an EXT row (every feature
  // but paged K/V) and a PAGED row (every feature), the feature rows after the plain ones.
  for (int d : ptxfmha_test::kHeadDims) {
    CAPTURE(d);
    const KernelInfo* plain = ptxfmha::find_kernel(90, KernelKind::Fwd, d);
    REQUIRE(plain != nullptr);
    CHECK(plain->features == 0u);
    const KernelInfo* ext = find_row("fmha_fwd_d" + std::to_string(d) + "_ext_sm90a");
    const KernelInfo* paged = find_row("fmha_fwd_d" + std::to_string(d) + "_paged_sm90a");
    REQUIRE(ext != nullptr);
    REQUIRE(paged != nullptr);
    CHECK(ext->features == (ptxfmha::kAttnAllFeatures & ~uint32_t(ptxfmha::kAttnPagedKV)));
    CHECK(paged->features == ptxfmha::kAttnAllFeatures);
    for (const KernelInfo* r : {ext, paged}) {
      CHECK(r->block_m == plain->block_m);
      CHECK(r->block_n == plain->block_n);
      CHECK(r->threads == plain->threads);
      CHECK(r->grid == plain->grid);
    }
  }
}

TEST_CASE("kernel table: sm100a feature rows (issue 14) and ptxfmha_attn's row choice on compute capability 10.0") {
  // Every sm100a head dim has its plain two-tile row (ptxfmha_fwd's) and an EXT row with the
  // features the two-tile body implements: all of them, seqused_k and paged K/V as runtime
  // switches of the same row (no separate paged row on sm_100a).
  const uint32_t want = ptxfmha::kAttnAllFeatures;
  CHECK(ptxfmha::attn_supported_features(100) == want);
  for (int d : ptxfmha_test::kHeadDims) {
    CAPTURE(d);
    const KernelInfo* plain = ptxfmha::find_kernel(100, KernelKind::Fwd, d);
    REQUIRE(plain != nullptr);
    CHECK(std::string(plain->name) == "fmha_fwd_d" + std::to_string(d) + "_sm100a");
    CHECK(plain->features == 0u);
    const KernelInfo* ext = find_row("fmha_fwd_d" + std::to_string(d) + "_ext_sm100a");
    REQUIRE(ext != nullptr);
    CHECK(ext->features == want);
    CHECK(ext->param_bytes == static_cast<int>(sizeof(ptxfmha::AttnKernelParams)));
    CHECK(plain->param_bytes == static_cast<int>(sizeof(ptxfmha::FwdKernelParams)));
    CHECK(ext->block_m == plain->block_m);
    CHECK(ext->block_n == plain->block_n);
    CHECK(ext->threads == plain->threads);
    CHECK(ext->q_tiles == plain->q_tiles);
    CHECK(ext->grid == plain->grid);
    CHECK(ext->tile_counter == plain->tile_counter);
    // ptxfmha_attn's choice: each supported feature alone and all of them together -> the EXT row.
    for (uint32_t f = 1; f <= 0x80u; f <<= 1) {
      CAPTURE(f);
      const KernelInfo* r = ptxfmha::find_attn_row(100, d, f);
      REQUIRE(r != nullptr);
      CHECK(std::string(r->name) == ext->name);
    }
    const KernelInfo* all = ptxfmha::find_attn_row(100, d, want);
    REQUIRE(all != nullptr);
    CHECK(std::string(all->name) == ext->name);
    // Other 10.x have no rows at all.
    CHECK(ptxfmha::find_attn_row(103, d, ptxfmha::kAttnWindow) == nullptr);
  }
  CHECK(ptxfmha::attn_feature_names(ptxfmha::kAttnAllFeatures & ~ptxfmha::attn_supported_features(100)) == "none");
}
