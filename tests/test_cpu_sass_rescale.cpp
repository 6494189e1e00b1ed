// SASS contracts of the sm90a forward kernels' main loop (test suite "sass"): the lazy-rescale
// branch, and the loop's control on the uniform datapath (check_uniform_loop, below).
//
// The rescale vote (vote.sync.any, VOTE.ANY) is per warp, so the warps of a warpgroup may take
// different arms of the branch on it; wgmma instructions are .aligned (every warp of the
// warpgroup executes the same instance), so no warpgroup instruction (WARPGROUP.DEPBAR,
// WARPGROUP.ARRIVE, HGMMA) may sit between the vote and the point where the warps join again.
// synccheck found the old layout on the H200 (2026-12-02): a WARPGROUP.DEPBAR in each arm.
// The kernels now wait for PV_{j-1} at the head of the main loop (ptx/body/sm90_fwd/
// mainloop.ptxh, MAIN_LOOP); for D >= 128 that wait must be the back edge's target, after the
// softmax, or the softmax stops overlapping the PV GEMM (ptxas hoists a wait that shares a
// basic block with the softmax to the block's top).
// Checked on the SASS laid out by ptxas: from the VOTE.ANY to the loop's back edge (the first
// unconditional BRA after it), and from the back edge's target to the next section's BAR.SYNC.
// Mutation on the real artefacts: PTXFMHA_BUILD_DIR=<a build of d1a8aad> fails it for every kernel.
#include <doctest/doctest.h>

#include <cstdlib>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "gpu_util.h"
#include "ptx_util.h"

using namespace ptxfmha_test;

namespace {

bool is_warpgroup_op(const std::string& t) {
  return t.find("WARPGROUP.") != std::string::npos || t.find("HGMMA") != std::string::npos;
}
bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

// The consumers' main loop as ptxas laid it out: the rescale vote (the first VOTE.ANY), the
// loop's back edge (the first unconditional BRA after it) and that edge's target (the head).
// "" and the three indices, else what is missing; the first warpgroup instruction between
// the vote and the back edge is reported in wg_after_vote (ins.size() if none).
struct MainLoop {
  std::size_t vote, back, head, wg_after_vote;
};
std::string find_main_loop(const std::vector<SassIns>& ins, MainLoop* l) {
  l->vote = l->back = l->head = l->wg_after_vote = ins.size();
  for (std::size_t i = 0; i < ins.size() && l->vote == ins.size(); ++i)
    if (ins[i].text.find("VOTE.ANY") != std::string::npos) l->vote = i;
  if (l->vote == ins.size()) return "no VOTE.ANY (the rescale vote) found";
  for (std::size_t i = l->vote + 1; i < ins.size() && l->back == ins.size(); ++i) {
    if (is_warpgroup_op(ins[i].text) && l->wg_after_vote == ins.size()) l->wg_after_vote = i;
    if (starts_with(ins[i].text, "BRA ")) l->back = i;
  }
  if (l->back == ins.size()) return "no unconditional BRA (the loop's back edge) after the vote";
  const long target = std::strtol(ins[l->back].text.c_str() + 4, nullptr, 16);
  for (std::size_t i = 0; i < ins.size(); ++i)
    if (ins[i].addr == target) l->head = i;
  if (l->head == ins.size() || l->head > l->back) return "the back edge's target is not an earlier instruction";
  return "";
}

// "" when the rescale branch of `ins` keeps the contract, else what breaks it.
// wait_heads_loop: D >= 128 (the PV wait must be the back edge's target).
std::string check_rescale_branch(const std::vector<SassIns>& ins, bool wait_heads_loop) {
  MainLoop l;
  const std::string why = find_main_loop(ins, &l);
  if (l.wg_after_vote < l.back)
    return "warpgroup instruction between the rescale vote and the loop's back edge: " + ins[l.wg_after_vote].text;
  if (!why.empty()) return why;
  const std::size_t head = l.head;
  if (wait_heads_loop && !starts_with(ins[head].text, "WARPGROUP.DEPBAR.LE gsb0, 0x0"))
    return "the loop head (back edge target) is not the PV wait: " + ins[head].text;
  for (std::size_t i = head + (wait_heads_loop ? 1 : 0); i < ins.size(); ++i) {
    if (starts_with(ins[i].text, "BAR.SYNC")) return "";
    if (is_warpgroup_op(ins[i].text))
      return "warpgroup instruction in the loop head's rescale branch: " + ins[i].text;
  }
  return "no BAR.SYNC (the next GEMM section) after the loop head";
}

// "" when the main loop (the rescale vote's back edge and its target, as above) runs its
// control on the uniform datapath: the loop's exit compare is a UISETP and every K/V ring
// wait (SYNCS.PHASECHK.TRANS64.TRYWAIT) addresses its mbarrier through a uniform register.
// ptxas keeps j, the ring's stage and parity and the K/V descriptors in uniform registers
// only when it can prove the consumers' tile loop convergent; a branch on a predicate it
// takes for per-thread (the EXT epilogue's per-row store branch before its vote) moved them
// to per-thread registers, with an R2UR before every HGMMA (6.9% slower, H200 2026-12-02).
// Mutation on the real artefacts: the sm90a forward cubins of 8071e38 (before the vote) fail
// it for the four EXT / PAGED kernels of head dims 64 and 128 (PTXFMHA_BUILD_DIR).
std::string check_uniform_loop(const std::vector<SassIns>& ins) {
  MainLoop l;
  const std::string why = find_main_loop(ins, &l);
  if (!why.empty()) return why;
  const std::size_t head = l.head, back = l.back;
  int uisetp = 0, waits = 0;
  for (std::size_t i = head; i <= back; ++i) {
    const std::string& t = ins[i].text;
    if (t.find("UISETP") != std::string::npos) ++uisetp;
    if (t.find("SYNCS.PHASECHK.TRANS64.TRYWAIT") != std::string::npos) {
      ++waits;
      const std::size_t b = t.find('[');
      if (b == std::string::npos || t.compare(b + 1, 2, "UR") != 0)
        return "a K/V ring wait in the main loop on a per-thread register: " + t;
    }
  }
  if (waits == 0) return "no K/V ring wait (SYNCS.PHASECHK.TRANS64.TRYWAIT) in the main loop";
  if (uisetp == 0) return "the main loop's exit compare is not on the uniform datapath (no UISETP)";
  return "";
}

// Runs `check` ("" or what breaks) on the SASS of every sm90a forward kernel of the table.
void check_every_sm90a_fwd(
    const std::function<std::string(const std::vector<SassIns>&, const ptxfmha::KernelInfo&)>& check) {
  const std::string objdump = cuobjdump_path();
  REQUIRE(!objdump.empty());
  int checked = 0;
  for (const ptxfmha::KernelInfo* r : ptxfmha::all_kernels()) {
    if (std::string(r->arch) != "sm90a" || r->kind != ptxfmha::KernelKind::Fwd) continue;
    const std::string name = r->name;
    CAPTURE(name);
    const auto ins = function_instructions(cubin_sass(objdump, r->arch, name), name);
    REQUIRE(!ins.empty());
    const std::string why = check(ins, *r);
    CHECK_MESSAGE(why.empty(), name << ": " << why);
    ++checked;
  }
  MESSAGE(checked << " sm90a forward kernels checked");
  CHECK(checked >= 9);
}

}  // namespace

TEST_CASE("SASS: sm90a forward main loop on the uniform datapath" * doctest::test_suite("sass")) {
  check_every_sm90a_fwd([](const std::vector<SassIns>& ins, const ptxfmha::KernelInfo&) {
    return check_uniform_loop(ins);
  });
}

TEST_CASE("SASS uniform-loop check: per-thread loop control (the EXT rows before the epilogue vote) is caught") {
  // fmha_fwd_d128_sm90a's main loop (abridged) and fmha_fwd_d128_ext_sm90a's before the vote.
  const std::string uniform =
      "        Function : k\n"
      "        /*2ec0*/                   WARPGROUP.DEPBAR.LE gsb0, 0x0 ;\n"
      "        /*34f0*/                   UISETP.GE.U32.AND UP1, UPT, UR9, UR28, UPT ;\n"
      "        /*35f0*/                   SYNCS.PHASECHK.TRANS64.TRYWAIT P0, [UR8], R20 ;\n"
      "        /*3660*/                   SYNCS.PHASECHK.TRANS64.TRYWAIT P0, [UR20], R21 ;\n"
      "        /*4fd0*/                   VOTE.ANY P1, P1 ;\n"
      "        /*5540*/                   BRA 0x2ec0 ;\n";
  const std::string per_thread =
      "        Function : k\n"
      "        /*4db0*/                   WARPGROUP.DEPBAR.LE gsb0, 0x0 ;\n"
      "        /*53e0*/                   ISETP.GE.U32.AND P0, PT, R186, R17, PT ;\n"
      "        /*54b0*/                   SYNCS.PHASECHK.TRANS64.TRYWAIT P0, [R22+URZ], R21 ;\n"
      "        /*5520*/                   SYNCS.PHASECHK.TRANS64.TRYWAIT P0, [R19+URZ], R24 ;\n"
      "        /*9030*/                   VOTE.ANY P1, P1 ;\n"
      "        /*9540*/                   BRA 0x4db0 ;\n";
  CHECK(check_uniform_loop(function_instructions(uniform, "k")).empty());
  const std::string w = check_uniform_loop(function_instructions(per_thread, "k"));
  CHECK(w.find("per-thread register") != std::string::npos);
  // Uniform waits but a per-thread exit compare.
  std::string c = uniform;
  c.replace(c.find("UISETP.GE.U32.AND UP1, UPT, UR9, UR28, UPT"), 42, "ISETP.GE.U32.AND P0, PT, R186, R17, PT");
  CHECK(check_uniform_loop(function_instructions(c, "k")).find("no UISETP") != std::string::npos);
}

TEST_CASE("SASS: sm90a forward rescale branch holds no warpgroup instruction; D >= 128 the PV wait heads the loop" *
          doctest::test_suite("sass")) {
  check_every_sm90a_fwd([](const std::vector<SassIns>& ins, const ptxfmha::KernelInfo& r) {
    return check_rescale_branch(ins, r.head_dim >= 128);
  });
}

TEST_CASE("SASS rescale-branch check: the old layout (a wait in each arm) and a hoisted wait are caught") {
  // The loop as ptxas laid it out on 2026-12-02 before the fix (fmha_fwd_d128_sm90a, abridged).
  const std::string old_layout =
      "        Function : k\n"
      "        /*3280*/                   BAR.SYNC.DEFER_BLOCKING R14, 0x100 ;\n"
      "        /*3320*/                   WARPGROUP.ARRIVE ;\n"
      "        /*36b0*/                   WARPGROUP.DEPBAR.LE gsb0, 0x1 ;\n"
      "        /*4c60*/                   VOTE.ANY P0, P0 ;\n"
      "        /*4c70*/               @P0 BRA 0x5140 ;\n"
      "        /*5120*/                   WARPGROUP.DEPBAR.LE gsb0, 0x0 ;\n"
      "        /*5130*/                   BRA 0x5160 ;\n"
      "        /*5140*/                   WARPGROUP.DEPBAR.LE gsb0, 0x0 ;\n"
      "        /*5150*/                   FMUL R88, R88, R3 ;\n"
      "        /*5160*/                   BRA 0x3280 ;\n";
  const std::string fixed =
      "        Function : k\n"
      "        /*2ec0*/                   WARPGROUP.DEPBAR.LE gsb0, 0x0 ;\n"
      "        /*2ed0*/               @P0 SYNCS.ARRIVE.TRANS64.A1T0 RZ, [UR13], RZ ;\n"
      "        /*2f00*/              @!P1 BRA 0x3310 ;\n"
      "        /*2f10*/                   FMUL R88, R88, R3 ;\n"
      "        /*3310*/                   F2FP.BF16.F32.PACK_AB R152, R25, R24 ;\n"
      "        /*3690*/                   BAR.SYNC.DEFER_BLOCKING R6, 0x100 ;\n"
      "        /*3740*/                   WARPGROUP.ARRIVE ;\n"
      "        /*3a90*/                   WARPGROUP.DEPBAR.LE gsb0, 0x1 ;\n"
      "        /*4fd0*/                   VOTE.ANY P1, P1 ;\n"
      "        /*5540*/                   BRA 0x2ec0 ;\n";
  // ptxas merging the head into the body hoists the wait to the softmax's start.
  const std::string hoisted =
      "        Function : k\n"
      "        /*30d0*/                   UISETP.GE.U32.AND UP1, UPT, UR10, UR17, UPT ;\n"
      "        /*3280*/                   BAR.SYNC.DEFER_BLOCKING R14, 0x100 ;\n"
      "        /*3320*/                   WARPGROUP.ARRIVE ;\n"
      "        /*36b0*/                   WARPGROUP.DEPBAR.LE gsb0, 0x1 ;\n"
      "        /*3f40*/                   WARPGROUP.DEPBAR.LE gsb0, 0x0 ;\n"
      "        /*4c90*/                   VOTE.ANY P0, P0 ;\n"
      "        /*5750*/                   BRA 0x30d0 ;\n";
  CHECK(check_rescale_branch(function_instructions(fixed, "k"), true).empty());
  const std::string o = check_rescale_branch(function_instructions(old_layout, "k"), true);
  CHECK(o.find("between the rescale vote and the loop's back edge") != std::string::npos);
  const std::string h = check_rescale_branch(function_instructions(hoisted, "k"), true);
  CHECK(h.find("loop head (back edge target) is not the PV wait") != std::string::npos);
  // A wait moved into the head's rescale arm.
  std::string arm = fixed;
  arm.replace(arm.find("FMUL R88, R88, R3"), 17, "WARPGROUP.DEPBAR.LE gsb0, 0x0");
  const std::string a = check_rescale_branch(function_instructions(arm, "k"), true);
  CHECK(a.find("in the loop head's rescale branch") != std::string::npos);
}
